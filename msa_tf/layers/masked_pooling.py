"""Pooling over time that ignores padded steps."""

import keras
from keras import ops

from msa_tf.layers.initializers import clone_initializer, get_initializer, initializers_config
from msa_tf.layers.masking import check_mask
from msa_tf.validation import check_choice

POOLING_METHODS = ("mean", "max", "attention", "last")


@keras.saving.register_keras_serializable(package="msa_tf")
class MaskedPooling(keras.layers.Layer):
    """Pools a sequence over time, reading only the real steps.

    Methods:
        - `"mean"`: the average of the real steps (sums run in float32).
        - `"max"`: the element-wise maximum of the real steps.
        - `"attention"`: a weighted average with weights from a learned score per
          step (a bias-free `Dense(1)` in float32, masked softmax in float32).
        - `"last"`: the last real step, wherever the padding is (left or right).

    A sequence with no real step pools to zeros.

    Args:
        method: one of `"mean"`, `"max"`, `"attention"`, `"last"`.
        kernel_initializer: initializer of the attention score's kernel.

    Call arguments:
        inputs: `(batch, time, dim)`.
        mask: optional boolean `(batch, time)`, `True` = real step; also taken from
            Keras implicit masking. Without a mask every step is real.

    Returns `(batch, dim)` in the compute dtype.

    Example:
    >>> x = np.array([[[1.0], [3.0], [100.0]]])
    >>> mask = np.array([[True, True, False]])
    >>> float(MaskedPooling("mean")(x, mask=mask)[0, 0])
    2.0
    >>> float(MaskedPooling("last")(x, mask=mask)[0, 0])
    3.0
    """

    def __init__(self, method="mean", kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.method = check_choice("method", method, POOLING_METHODS)
        self.kernel_initializer = get_initializer("kernel_initializer", kernel_initializer)
        self.supports_masking = True

    def build(self, inputs_shape):
        if self.method == "attention":
            self.score = keras.layers.Dense(
                1,
                use_bias=False,
                kernel_initializer=clone_initializer(self.kernel_initializer),
                dtype="float32",
                name="score",
            )
            self.score.build(inputs_shape)
            self.softmax = keras.layers.Softmax(axis=1, dtype="float32", name="softmax")

    def call(self, inputs, mask=None):
        mask = check_mask(mask, inputs, "mask")
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        # Padded steps are replaced, not multiplied by zero: 0 * inf would be NaN.
        values = ops.where(mask[..., None], ops.cast(inputs, "float32"), 0.0)
        if self.method == "mean":
            count = ops.sum(ops.cast(mask, "float32"), axis=1, keepdims=True)
            pooled = ops.sum(values, axis=1) / ops.maximum(count, 1.0)
        elif self.method == "max":
            lowest = ops.full_like(values, -3.0e38)
            pooled = ops.max(ops.where(mask[..., None], values, lowest), axis=1)
            pooled = ops.where(ops.any(mask, axis=1)[:, None], pooled, 0.0)
        elif self.method == "attention":
            weights = self.softmax(self.score(values), mask=mask[..., None])
            pooled = ops.sum(weights * values, axis=1)
        else:  # last
            positions = ops.arange(ops.shape(inputs)[1])[None, :]
            last = ops.max(ops.where(mask, positions, -1), axis=1)
            is_last = ops.equal(positions, last[:, None])
            pooled = ops.sum(ops.where(is_last[..., None], values, 0.0), axis=1)
        return ops.cast(pooled, self.compute_dtype)

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def compute_output_shape(self, inputs_shape):
        return (inputs_shape[0], inputs_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(method=self.method, **initializers_config(self, ["kernel_initializer"]))
        return config
