"""Training: dtype policy, distribution strategy, optimizers, schedules, callbacks, plots and
the experiment runner."""
