"""Our side of `benchmarks/bench_peer.py`: msa_tf's `mult`, trained with `model.fit` as `msa-tf train` does.

The model gets its settings from the parent as JSON (`model`: `mult` arguments,
`learning_rate`, `clipvalue`) and trains on the `regression` output with the MAE loss
and `keras.optimizers.Adam(learning_rate, clipvalue=clipvalue)`, on the batch and its
all-real masks (as the MSA pipelines yield them), in one of MODES. Runs in the project's
environment, from the repository root:

    .venv/bin/python -m benchmarks.peer.msa_tf_worker DATA.npz MODE THREADS SETTINGS_JSON
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.flops import compiler_ir_module, hlo_flops  # noqa: E402
from benchmarks.in_memory import repeated  # noqa: E402
from benchmarks.peer.protocol import load_batch, serve  # noqa: E402
from msa_tf import models  # noqa: E402
from msa_tf.modalities import MODALITIES  # noqa: E402
from msa_tf.training.config import TrainingConfig  # noqa: E402

# mode: (dtype policy, jit_compile); `bf16` compiles as `msa-tf train` does by default.
MODES = {"xla": ("float32", True), "no-xla": ("float32", False),
         "bf16": ("mixed_bfloat16", TrainingConfig.jit_compile)}


class Trainer:
    """Our `mult`, compiled as the runner compiles it, and `fit` on a fixed batch."""

    def __init__(self, settings, batch, jit_compile):
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        inputs = {m: batch[m] for m in MODALITIES}
        inputs.update({f"{m}_mask": np.ones(batch[m].shape[:2], dtype=bool) for m in MODALITIES})
        self.batch = (inputs, {"regression": batch["labels"]})
        dims = {f"{m}_dim": batch[m].shape[-1] for m in MODALITIES}
        self.model = models.get("mult", seq_len=batch["text"].shape[1], **dims, **settings["model"])
        self.model.build({key: value.shape for key, value in inputs.items()})
        optimizer = keras.optimizers.Adam(settings["learning_rate"], clipvalue=settings["clipvalue"])
        self.model.compile(optimizer=optimizer, loss={"regression": "mae"}, jit_compile=jit_compile)
        self.model.optimizer.build(self.model.trainable_variables)  # as the runner does
        self.data = repeated(self.batch)
        self.params = self.model.count_params()

    def train(self, steps):
        self.model.fit(self.data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)

    def flops(self):
        batch = tf.nest.map_structure(tf.constant, self.batch)
        dots, convolutions, notes = hlo_flops(compiler_ir_module(self.model, batch))
        return {"flops": dots + convolutions, "notes": notes}


def main():
    data_path, mode, threads, settings = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if mode not in MODES:
        raise ValueError(f"MODE must be one of {', '.join(MODES)}; received {mode!r}")
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    policy, jit_compile = MODES[mode]
    keras.mixed_precision.set_global_policy(policy)
    settings = json.loads(settings)
    serve(lambda batch_size: Trainer(settings, load_batch(data_path, batch_size), jit_compile),
          versions={"tensorflow": tf.__version__, "keras": keras.__version__})


if __name__ == "__main__":
    main()
