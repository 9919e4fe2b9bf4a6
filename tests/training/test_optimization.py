import math

import keras
import numpy as np
import pytest

from msa_tf.training.optimization import build_optimizer, plateau_callback


def learning_rate_at(optimizer, step):
    """The learning rate the optimizer uses after `step` batches (no accumulation)."""
    optimizer.iterations.assign(step)
    return float(optimizer.learning_rate)


def test_constant_schedule_is_a_settable_float():
    optimizer = build_optimizer("adam", 3e-3, steps_per_epoch=10, epochs=2)
    assert isinstance(optimizer, keras.optimizers.Adam)
    assert not isinstance(optimizer, keras.optimizers.AdamW)
    assert learning_rate_at(optimizer, 0) == learning_rate_at(optimizer, 500) == pytest.approx(3e-3)
    optimizer.learning_rate = 1e-3  # what ReduceLROnPlateau does
    assert float(optimizer.learning_rate) == pytest.approx(1e-3)


def test_cosine_decays_from_learning_rate_to_minimum_over_all_epochs():
    optimizer = build_optimizer(learning_rate=1e-2, schedule="cosine", steps_per_epoch=10,
                                epochs=4, min_learning_rate=1e-3)
    assert learning_rate_at(optimizer, 0) == pytest.approx(1e-2)
    quarter = 1e-3 + 9e-3 * (1 + math.cos(math.pi / 4)) / 2
    assert learning_rate_at(optimizer, 10) == pytest.approx(quarter)
    assert learning_rate_at(optimizer, 20) == pytest.approx(5.5e-3)
    assert learning_rate_at(optimizer, 40) == pytest.approx(1e-3)
    assert learning_rate_at(optimizer, 60) == pytest.approx(1e-3)


def test_cosine_restarts_after_restart_epochs_then_doubles_the_period():
    optimizer = build_optimizer(learning_rate=1.0, schedule="cosine_restarts", steps_per_epoch=10,
                                restart_epochs=2, min_learning_rate=0.1)
    assert learning_rate_at(optimizer, 0) == pytest.approx(1.0)
    assert learning_rate_at(optimizer, 10) == pytest.approx(0.55)
    last_step = 0.1 + 0.45 * (1 + math.cos(0.95 * math.pi))
    assert learning_rate_at(optimizer, 19) == pytest.approx(last_step)
    assert learning_rate_at(optimizer, 20) == pytest.approx(1.0)  # first restart
    assert learning_rate_at(optimizer, 40) == pytest.approx(0.55)  # middle of a 40-step period
    assert learning_rate_at(optimizer, 60) == pytest.approx(1.0)


def test_reduce_on_plateau_keeps_a_float_that_the_callback_halves():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(build_optimizer(learning_rate=0.1, schedule="reduce_on_plateau"), "mse")
    callback = plateau_callback(patience=2, min_learning_rate=0.03)
    assert (callback.monitor, callback.factor, callback.patience, callback.min_lr) == (
        "val_loss", 0.5, 2, 0.03)
    callback.set_model(model)
    callback.on_train_begin()
    rates = []
    for epoch in range(6):
        callback.on_epoch_end(epoch, {"val_loss": 1.0})
        rates.append(round(float(model.optimizer.learning_rate), 6))
    assert rates == [0.1, 0.1, 0.05, 0.05, 0.03, 0.03]  # reduced after 2 flat epochs


def test_adamw_decays_weights_by_learning_rate_times_weight_decay():
    assert build_optimizer("adamw").weight_decay == 0.01
    assert build_optimizer("adam").weight_decay is None
    optimizer = build_optimizer("adamw", 0.1, weight_decay=0.5)
    assert isinstance(optimizer, keras.optimizers.AdamW)
    weight = keras.Variable([2.0, -4.0])
    optimizer.apply([keras.ops.zeros(2)], [weight])  # no gradient: only the decay moves it
    np.testing.assert_allclose(weight.numpy(), [2.0 * 0.95, -4.0 * 0.95], rtol=1e-6)


def test_clipnorm_is_set_and_off_by_default():
    assert build_optimizer(clipnorm=1.0).clipnorm == 1.0
    assert build_optimizer().clipnorm is None


def fit_dense(optimizer, batches, epochs=1, callbacks=()):
    """Fits Dense(1) to y = 3x on `batches` batches of 2 per epoch; returns the model."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer, "mse")
    x = np.linspace(-1, 1, 2 * batches, dtype="float32")[:, None]
    model.fit(x, 3 * x, batch_size=2, epochs=epochs, shuffle=False, verbose=0,
              callbacks=list(callbacks))
    return model


def kernel_after_each_batch(optimizer, batches):
    """The Dense(1) kernel before training and after each of `batches` batches."""
    kernels = []

    def append_kernel(*batch, logs=None):
        kernels.append(record.model.layers[0].kernel.numpy().item())

    record = keras.callbacks.LambdaCallback(on_train_begin=append_kernel,
                                            on_train_batch_end=append_kernel)
    fit_dense(optimizer, batches, callbacks=[record])
    return kernels


def test_gradient_accumulation_updates_once_every_two_batches():
    optimizer = build_optimizer(learning_rate=0.1, gradient_accumulation_steps=2)
    assert optimizer.gradient_accumulation_steps == 2
    kernels = kernel_after_each_batch(optimizer, batches=4)
    assert int(optimizer.iterations) == 2  # updates, not batches
    assert kernels[1] == kernels[0] and kernels[3] == kernels[2]
    assert kernels[2] != kernels[1] and kernels[4] != kernels[3]


def test_one_accumulation_step_updates_every_batch():
    optimizer = build_optimizer(learning_rate=0.1, gradient_accumulation_steps=1)
    assert optimizer.gradient_accumulation_steps is None
    kernels = kernel_after_each_batch(optimizer, batches=4)
    assert int(optimizer.iterations) == 4
    assert len(set(kernels)) == 5


def test_cosine_with_accumulation_ends_at_the_last_epoch():
    # Keras evaluates the schedule at the number of batches, not of updates.
    optimizer = build_optimizer(learning_rate=0.1, schedule="cosine", steps_per_epoch=4, epochs=2,
                                gradient_accumulation_steps=2)
    rates = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: rates.append(float(optimizer.learning_rate)))
    fit_dense(optimizer, batches=4, epochs=2, callbacks=[record])
    assert int(optimizer.iterations) == 4
    assert rates == pytest.approx([0.05, 0.0], abs=1e-8)  # halfway, then the minimum


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "sgd"}, "`optimizer` must be one of 'adam', 'adamw'; received optimizer='sgd'"),
    ({"name": "adam_w"}, "received optimizer='adam_w' (did you mean 'adamw'?)"),
    ({"learning_rate": 0}, "`learning_rate` must be a finite number > 0; received learning_rate=0"),
    ({"learning_rate": "1e-3"}, "received learning_rate='1e-3'"),
    ({"learning_rate": float("nan")}, "received learning_rate=nan"),
    ({"weight_decay": -0.1}, "`weight_decay` must be a finite number >= 0; received weight_decay=-0.1"),
    ({"clipnorm": 0.0}, "`clipnorm` must be a finite number > 0; received clipnorm=0.0"),
    ({"gradient_accumulation_steps": 0}, "`gradient_accumulation_steps` must be a positive integer; "
                                         "received gradient_accumulation_steps=0"),
    ({"gradient_accumulation_steps": 2.0}, "received gradient_accumulation_steps=2.0"),
    ({"schedule": "cosin"}, "`schedule` must be one of 'constant', 'cosine', 'cosine_restarts', "
                            "'reduce_on_plateau'; received schedule='cosin' (did you mean 'cosine'?)"),
    ({"schedule": "cosine", "epochs": 3}, "`steps_per_epoch` must be a positive integer with "
                                          "schedule='cosine'; received steps_per_epoch=None"),
    ({"schedule": "cosine", "steps_per_epoch": 3}, "`epochs` must be a positive integer with "
                                                   "schedule='cosine'; received epochs=None"),
    ({"schedule": "cosine_restarts", "restart_epochs": None, "steps_per_epoch": 3},
     "`restart_epochs` must be a positive integer with schedule='cosine_restarts'"),
    ({"epochs": 0}, "`epochs` must be a positive integer; received epochs=0"),
    ({"steps_per_epoch": 2.5}, "`steps_per_epoch` must be a positive integer; "
                               "received steps_per_epoch=2.5"),
    ({"min_learning_rate": -1.0}, "`min_learning_rate` must be a number in [0, learning_rate=0.001]; "
                                  "received min_learning_rate=-1.0"),
    ({"min_learning_rate": 0.01}, "received min_learning_rate=0.01"),
])
def test_bad_optimizer_arguments_name_argument_value_and_accepted(kwargs, message):
    with pytest.raises(ValueError) as error:
        build_optimizer(**kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize("kwargs, message", [
    ({"monitor": ""}, "`monitor` must be a metric name"),
    ({"factor": 1.0}, "`factor` must be a finite number in (0, 1); received factor=1.0"),
    ({"factor": 0}, "received factor=0"),
    ({"patience": -1}, "`patience` must be an integer >= 0; received patience=-1"),
    ({"min_learning_rate": -0.1}, "`min_learning_rate` must be a finite number >= 0"),
])
def test_bad_plateau_arguments_name_argument_value_and_accepted(kwargs, message):
    with pytest.raises(ValueError) as error:
        plateau_callback(**kwargs)
    assert message in str(error.value)


