"""The line protocol between `benchmarks/bench_peer.py` and its workers.

Standard library and NumPy only, so that both sides' environments import it. A worker
first sends `{"ready": INFO}` (or `{"missing": ERROR}` when it cannot import its
framework), then answers each command line of the parent with one JSON line:

- `build BATCH` -> `{"params": N}`: builds the model and its training step for this
  batch size (dropping the previous one);
- `train STEPS` -> `{"seconds": S}`: trains STEPS steps on the batch;
- `flops` -> `{"flops": F, "notes": [...]}`: dot/matmul and convolution FLOPs of one
  training step (forward and backward) on the batch.

The worker ends when its standard input closes.
"""

import json
import sys
import time

import numpy as np


def load_batch(path, batch_size):
    """The first `batch_size` examples of the parent's `.npz` (text, audio, vision, labels)."""
    with np.load(path) as data:
        return {key: data[key][:batch_size] for key in data.files}


def _send(stream, **message):
    stream.write(json.dumps(message) + "\n")
    stream.flush()


def missing(error):
    """Tells the parent that the worker's framework cannot be imported, and exits."""
    _send(sys.stdout, missing=str(error))
    sys.exit(0)


def serve(build, **info):
    """Sends `{"ready": info}`, then answers commands; `build(batch_size)` returns a trainer.

    A trainer has `params`, `train(steps)` and `flops()` (a dict with `flops` and `notes`).
    """
    replies, sys.stdout = sys.stdout, sys.stderr  # a library's print must not break the protocol
    _send(replies, ready=info)
    trainer = None
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "build":
            trainer = None  # frees the previous model before building the next
            trainer = build(int(argument))
            _send(replies, params=trainer.params)
        elif command == "train":
            start = time.perf_counter()
            trainer.train(int(argument))
            _send(replies, seconds=time.perf_counter() - start)
        elif command == "flops":
            _send(replies, **trainer.flops())
        else:
            raise ValueError(f"unknown command {line.strip()!r}; accepted: build, train, flops")
