"""Multi-head attention with boolean padding masks that is safe in float16."""

import math

import keras
from keras import ops

from msa_tf.layers.dropout import Dropout
from msa_tf.layers.initializers import dense_initializers, get_initializer, initializers_config
from msa_tf.layers.masking import attention_mask, check_mask
from msa_tf.validation import check_divisible, check_positive_int, check_rate


def _dense(inputs, kernel, bias, dtype, input_axes=1):
    """`inputs @ kernel + bias` over the last `input_axes` axes of `inputs`, as one 2D matmul.

    The leading `input_axes` axes of `kernel` meet those of `inputs`; its other axes
    are the output's. `ops.einsum` computes the same, but the gradient of TensorFlow's
    einsum finds the kernel gradient example by example and then sums them.
    """
    leading = ops.shape(inputs)[: len(inputs.shape) - input_axes]
    size = math.prod(kernel.shape[:input_axes])
    outputs = ops.matmul(
        ops.reshape(inputs, (-1, size)), ops.cast(ops.reshape(kernel, (size, -1)), dtype)
    )
    outputs = outputs + ops.cast(ops.reshape(bias, (-1,)), dtype)
    return ops.reshape(outputs, (*leading, *kernel.shape[input_axes:]))


def _attending_queries(query_mask, mask):
    """`(batch, query_time)` booleans: a real query step with at least one key; `None` if all."""
    attends = None if mask is None else ops.any(mask, axis=-1)
    if query_mask is None:
        return attends
    return query_mask if attends is None else ops.logical_and(attends, query_mask)


@keras.saving.register_keras_serializable(package="msa_tf")
class MaskedMultiHeadAttention(keras.layers.Layer):
    """Multi-head scaled dot-product attention with boolean padding masks.

    Queries come from `query`; keys and values from `value`. The key projection has
    no bias: a key bias adds the same amount to every score of a query, which the
    softmax removes, so it could never learn. Under `mixed_float16` the scores are
    computed in float32 (float16 overflows for inputs around 1e4) and the softmax
    always runs in float32; masking uses booleans, never a large negative number
    added in half precision. A query whose keys are all padding attends to nothing
    and gets a zero context.

    Args:
        width: size of the output and of the attention space; a multiple of
            `num_heads`.
        num_heads: number of attention heads.
        dropout: dropout rate on the attention weights, in [0, 1).
        kernel_initializer: initializer of the projection kernels.
        bias_initializer: initializer of the projection biases.

    Call arguments:
        query: `(batch, query_time, query_dim)`.
        value: `(batch, value_time, value_dim)`.
        query_mask: optional boolean `(batch, query_time)`, `True` = real step.
        value_mask: optional boolean `(batch, value_time)`, `True` = real step.
        causal: if `True`, query step `i` sees value steps `<= i` only.
        return_attention_scores: if `True`, also returns the attention weights
            `(batch, num_heads, query_time, value_time)` in float32.
        training: Python boolean, enables dropout.

    Example:
    >>> layer = MaskedMultiHeadAttention(width=8, num_heads=2)
    >>> layer(np.ones((2, 5, 8)), np.ones((2, 3, 4))).shape
    TensorShape([2, 5, 8])

    Reference:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017.
    """

    def __init__(self, width, num_heads, dropout=0.0, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.width = check_positive_int("width", width)
        self.num_heads = check_positive_int("num_heads", num_heads)
        check_divisible("width", width, "num_heads", num_heads)
        self.dropout = check_rate("dropout", dropout)
        self.kernel_initializer = get_initializer("kernel_initializer", kernel_initializer)
        self.bias_initializer = get_initializer("bias_initializer", bias_initializer)
        self.supports_masking = True

    def build(self, query_shape, value_shape):
        head_dim = self.width // self.num_heads
        heads = (None, self.num_heads, head_dim)

        # The projections hold the weights (and their names in `.keras` files); `call`
        # computes them with `_dense`.
        def projection(name, use_bias):
            return keras.layers.EinsumDense(
                "btd,dhk->bthk",
                output_shape=heads,
                bias_axes="hk" if use_bias else None,
                **dense_initializers(self),
                dtype=self.dtype_policy,
                name=name,
            )

        self.query_dense = projection("query", use_bias=True)
        self.key_dense = projection("key", use_bias=False)
        self.value_dense = projection("value", use_bias=True)
        self.output_dense = keras.layers.EinsumDense(
            "bthk,hkd->btd",
            output_shape=(None, self.width),
            bias_axes="d",
            **dense_initializers(self),
            dtype=self.dtype_policy,
            name="attention_output",
        )
        self.weights_dropout = Dropout(self.dropout, dtype=self.dtype_policy)
        self.query_dense.build(query_shape)
        self.key_dense.build(value_shape)
        self.value_dense.build(value_shape)
        self.output_dense.build((query_shape[0], query_shape[1], self.num_heads, head_dim))
        self._scale = 1.0 / math.sqrt(head_dim)

    def call(
        self,
        query,
        value,
        query_mask=None,
        value_mask=None,
        causal=False,
        return_attention_scores=False,
        training=None,
    ):
        query_mask = check_mask(query_mask, query, "query_mask")
        value_mask = check_mask(value_mask, value, "value_mask")
        if value is query:  # self-attention: one matmul for the three projections
            q, k, v = self._project(query, (self.query_dense, self.key_dense, self.value_dense))
        else:
            (q,) = self._project(query, (self.query_dense,))
            k, v = self._project(value, (self.key_dense, self.value_dense))
        q = q * ops.cast(self._scale, self.compute_dtype)
        if self.compute_dtype == "float16":
            q, k = ops.cast(q, "float32"), ops.cast(k, "float32")
        scores = ops.cast(ops.einsum("bqhd,bkhd->bhqk", q, k), "float32")
        mask = attention_mask(None, value_mask, ops.shape(query)[1], ops.shape(value)[1], causal)
        if mask is not None:
            scores = ops.where(mask[:, None], scores, ops.cast(-1e9, "float32"))
        # The softmax, written out: its shift by the row maximum needs no gradient, and
        # padding is masked once, on the keys; query rows are cleared on the (smaller)
        # context. This is about a fifth faster per block than a masked `Softmax` layer.
        exp = ops.exp(scores - ops.stop_gradient(ops.max(scores, axis=-1, keepdims=True)))
        weights = exp / ops.sum(exp, axis=-1, keepdims=True)
        dropped = self.weights_dropout(ops.cast(weights, self.compute_dtype), training=training)
        context = ops.einsum("bhqk,bkhd->bqhd", dropped, v)
        attends = _attending_queries(query_mask, mask)
        if attends is not None:  # no attention context for padded or keyless queries
            context = ops.where(attends[:, :, None, None], context, ops.zeros((), context.dtype))
            if return_attention_scores:
                weights = ops.where(attends[:, None, :, None], weights, ops.zeros((), "float32"))
        outputs = _dense(context, self.output_dense.kernel, self.output_dense.bias,
                         self.compute_dtype, input_axes=2)
        if return_attention_scores:
            return outputs, weights
        return outputs

    def _project(self, inputs, projections):
        """The outputs `(batch, time, num_heads, head_dim)` of `projections` of `inputs`.

        Their kernels `(dim, num_heads, head_dim)` are concatenated along the heads (a
        key projection without bias adds zeros), so projections of the same input take
        one matmul, with the same weights and results as separate ones.
        """
        kernel = ops.concatenate([p.kernel for p in projections], axis=1)
        bias = ops.concatenate(
            [ops.zeros_like(p.kernel[0]) if p.bias is None else p.bias for p in projections],
            axis=0,
        )
        outputs = _dense(inputs, kernel, bias, self.compute_dtype)
        return ops.split(outputs, len(projections), axis=2)

    def compute_mask(self, query, previous_mask=None):
        return previous_mask

    def compute_output_shape(self, query_shape, value_shape):
        return (*query_shape[:-1], self.width)

    def compute_output_spec(self, query, value, query_mask=None, value_mask=None, causal=False,
                            return_attention_scores=False, training=None):
        outputs = keras.KerasTensor(
            self.compute_output_shape(query.shape, value.shape), dtype=self.compute_dtype
        )
        if not return_attention_scores:
            return outputs
        scores_shape = (query.shape[0], self.num_heads, query.shape[1], value.shape[1])
        return outputs, keras.KerasTensor(scores_shape, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(width=self.width, num_heads=self.num_heads, dropout=self.dropout,
                      **initializers_config(self))
        return config
