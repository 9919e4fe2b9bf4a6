"""Tensor fusion: the unimodal subnetworks of TFN and LMF, the outer product, its low-rank form."""

import keras
from keras import ops

from msa_tf.layers.dropout import Dropout
from msa_tf.layers.initializers import (
    clone_initializer,
    dense_initializers,
    get_initializer,
    initializers_config,
)
from msa_tf.layers.masked_pooling import MaskedPooling
from msa_tf.layers.modality_inputs import check_modalities, check_shape_list, modality_inputs
from msa_tf.modalities import MODALITIES
from msa_tf.validation import check_positive_int, check_rate, optional


@keras.saving.register_keras_serializable(package="msa_tf")
class UnimodalSubnetworks(keras.layers.Layer):
    """The unimodal subnetworks of TFN and LMF: one vector per modality.

    Text (features, or token ids through an `Embedding`) goes through an LSTM that
    skips the padded steps; its final state goes through dropout and a linear
    `Dense(text_hidden)`. Audio and vision are averaged over their real steps and go
    through dropout and three `Dense` layers. A modality with no real step in a
    sample reads as zeros (an LSTM that never stepped, a zero mean).

    The MLP uses GELU where the papers use ReLU: with small widths a ReLU layer can
    go dead for a whole batch and stop every gradient behind it. The LSTM does not
    use cuDNN: cuDNN accepts only right-padded masks and no all-`False` row (a
    missing modality), and it cannot run under XLA.

    Args:
        text_hidden, audio_hidden, vision_hidden: the width of each modality's vector.
        dropout: dropout rate, in [0, 1).
        text_vocab_size: `None` for text features, else the vocabulary of token ids
            (embedded at `text_hidden`).
        kernel_initializer, bias_initializer: of the LSTM's input kernel and bias and
            of the `Dense` layers.

    Call arguments:
        inputs: dict with `text`, `audio`, `vision` and optional boolean `*_mask`s.
        training: Python boolean, enables dropout.

    Returns `[text (batch, text_hidden), audio (batch, audio_hidden),
    vision (batch, vision_hidden)]`.

    Reference: Zadeh et al., "Tensor Fusion Network for Multimodal Sentiment
    Analysis", EMNLP 2017.

    Example:
    >>> layer = UnimodalSubnetworks(8, 4, 3)
    >>> inputs = {"text": np.ones((2, 6, 5)), "audio": np.ones((2, 6, 4)),
    ...           "vision": np.ones((2, 6, 3))}
    >>> [tuple(v.shape) for v in layer(inputs)]
    [(2, 8), (2, 4), (2, 3)]
    """

    def __init__(self, text_hidden, audio_hidden, vision_hidden, dropout=0.0,
                 text_vocab_size=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.text_hidden = check_positive_int("text_hidden", text_hidden)
        self.audio_hidden = check_positive_int("audio_hidden", audio_hidden)
        self.vision_hidden = check_positive_int("vision_hidden", vision_hidden)
        self.dropout = check_rate("dropout", dropout)
        self.text_vocab_size = optional(check_positive_int)("text_vocab_size", text_vocab_size)
        self.kernel_initializer = get_initializer("kernel_initializer", kernel_initializer)
        self.bias_initializer = get_initializer("bias_initializer", bias_initializer)

    @property
    def widths(self):
        return {"text": self.text_hidden, "audio": self.audio_hidden, "vision": self.vision_hidden}

    def _dense(self, units, name, activation=None):
        return keras.layers.Dense(units, activation=activation, **dense_initializers(self),
                                  dtype=self.dtype_policy, name=name)

    def build(self, inputs_shape):
        check_modalities(inputs_shape)
        policy = self.dtype_policy
        text_shape = tuple(inputs_shape["text"])
        self.text_embedding = None
        if self.text_vocab_size is not None:
            self.text_embedding = keras.layers.Embedding(
                self.text_vocab_size, self.text_hidden, dtype=policy, name="text_embedding"
            )
            self.text_embedding.build(text_shape)
            text_shape = (*text_shape[:2], self.text_hidden)
        self.text_lstm = keras.layers.LSTM(
            self.text_hidden, use_cudnn=False, **dense_initializers(self), dtype=policy,
            name="text_lstm",
        )
        self.text_lstm.build(text_shape)
        self.text_dense = self._dense(self.text_hidden, "text_dense")
        self.text_dense.build((text_shape[0], self.text_hidden))
        poolers, mlps = {}, {}
        for m in ("audio", "vision"):
            shape = tuple(inputs_shape[m])
            poolers[m] = MaskedPooling("mean", dtype=policy, name=f"{m}_pooling")
            poolers[m].build(shape)
            mlps[m] = []
            for index in range(3):
                dense = self._dense(self.widths[m], f"{m}_dense_{index}", activation="gelu")
                dense.build((shape[0], shape[-1]))
                shape = (shape[0], self.widths[m])
                mlps[m].append(dense)
        self.poolers, self.mlps = poolers, mlps
        self.dropouts = {
            m: Dropout(self.dropout, dtype=policy, name=f"{m}_dropout")
            for m in MODALITIES
        }

    def call(self, inputs, training=None):
        parsed = modality_inputs(inputs)
        text, text_mask = parsed["text"]
        if self.text_embedding is not None:
            text = self.text_embedding(text)
        text = self.text_lstm(text, mask=text_mask, training=training)
        vectors = [self.text_dense(self.dropouts["text"](text, training=training))]
        for m in ("audio", "vision"):
            sequence, mask = parsed[m]
            x = self.dropouts[m](self.poolers[m](sequence, mask=mask), training=training)
            for dense in self.mlps[m]:
                x = dense(x)
            vectors.append(x)
        return vectors

    def compute_output_shape(self, inputs_shape):
        batch = inputs_shape["text"][0]
        return [(batch, self.widths[m]) for m in MODALITIES]

    def get_config(self):
        config = super().get_config()
        config.update(
            text_hidden=self.text_hidden, audio_hidden=self.audio_hidden,
            vision_hidden=self.vision_hidden, dropout=self.dropout,
            text_vocab_size=self.text_vocab_size, **initializers_config(self),
        )
        return config


def _with_ones(vector):
    ones = ops.ones((ops.shape(vector)[0], 1), dtype=vector.dtype)
    return ops.concatenate([ones, vector], axis=-1)


@keras.saving.register_keras_serializable(package="msa_tf")
class TensorFusion(keras.layers.Layer):
    """The tensor fusion of TFN: the flattened outer product of `[1, h_m]` vectors.

    Each vector gets a constant 1 in front, so the product holds every unimodal,
    bimodal and trimodal interaction: for three vectors, `z[i, j, k] =
    [1, h_t][i] * [1, h_a][j] * [1, h_v][k]`, flattened in that (C) order.

    Call arguments:
        inputs: a list of `M >= 1` vectors `(batch, d_m)`.

    Returns `(batch, (d_1 + 1) * ... * (d_M + 1))`.

    Reference: Zadeh et al., "Tensor Fusion Network for Multimodal Sentiment
    Analysis", EMNLP 2017.

    Example:
    >>> fused = TensorFusion()([np.array([[2.0]]), np.array([[3.0]])])
    >>> ops.convert_to_numpy(fused).tolist()
    [[1.0, 3.0, 2.0, 6.0]]
    """

    def build(self, inputs_shape):
        check_shape_list("TensorFusion", inputs_shape, 2, "(batch, dim) vectors")

    def call(self, inputs):
        fused = _with_ones(inputs[0])
        for vector in inputs[1:]:
            vector = _with_ones(vector)
            width = ops.shape(fused)[-1] * ops.shape(vector)[-1]
            fused = ops.reshape(fused[:, :, None] * vector[:, None, :], (-1, width))
        return fused

    def compute_output_shape(self, inputs_shape):
        width = 1
        for shape in inputs_shape:
            width *= shape[-1] + 1
        return (inputs_shape[0][0], width)


@keras.saving.register_keras_serializable(package="msa_tf")
class LowRankFusion(keras.layers.Layer):
    """The low-rank multimodal fusion of LMF.

    Each input `h_m` gets a constant 1 in front and is projected by `rank`
    modality-specific factors `W_m` `(rank, d_m + 1, output_dim)`; the projections
    are multiplied element-wise across modalities and summed over the rank with
    learned `fusion_weights` `(rank,)` (starting at 1), plus a `fusion_bias`
    `(output_dim,)`:

        out = sum_r fusion_weights[r] * prod_m ([1, h_m] @ W_m[r]) + fusion_bias

    This equals a linear map of the full `TensorFusion` outer product by a weight
    tensor of rank `rank`, without ever forming the product.

    Args:
        rank: number of rank-1 terms.
        output_dim: width of the fused vector.
        kernel_initializer: initializer of the factors.
        bias_initializer: initializer of `fusion_bias`.

    Call arguments:
        inputs: a list of `M >= 1` vectors `(batch, d_m)`.

    Returns `(batch, output_dim)`.

    Reference: Liu et al., "Efficient Low-rank Multimodal Fusion with
    Modality-Specific Factors", ACL 2018.

    Example:
    >>> fusion = LowRankFusion(rank=2, output_dim=8)
    >>> tuple(fusion([np.ones((3, 4)), np.ones((3, 5)), np.ones((3, 6))]).shape)
    (3, 8)
    """

    def __init__(self, rank, output_dim, kernel_initializer="glorot_normal",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.rank = check_positive_int("rank", rank)
        self.output_dim = check_positive_int("output_dim", output_dim)
        self.kernel_initializer = get_initializer("kernel_initializer", kernel_initializer)
        self.bias_initializer = get_initializer("bias_initializer", bias_initializer)

    def build(self, inputs_shape):
        check_shape_list("LowRankFusion", inputs_shape, 2, "(batch, dim) vectors")
        self.factors = [
            self.add_weight(
                name=f"factor_{index}", shape=(self.rank, shape[-1] + 1, self.output_dim),
                initializer=clone_initializer(self.kernel_initializer),
            )
            for index, shape in enumerate(inputs_shape)
        ]
        self.fusion_weights = self.add_weight(
            name="fusion_weights", shape=(self.rank,), initializer="ones"
        )
        self.fusion_bias = self.add_weight(
            name="fusion_bias", shape=(self.output_dim,),
            initializer=clone_initializer(self.bias_initializer),
        )

    def call(self, inputs):
        product = None
        for vector, factor in zip(inputs, self.factors):
            projected = ops.einsum("bd,rdo->rbo", _with_ones(vector), factor)
            product = projected if product is None else product * projected
        return ops.einsum("r,rbo->bo", self.fusion_weights, product) + self.fusion_bias

    def compute_output_shape(self, inputs_shape):
        return (inputs_shape[0][0], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(rank=self.rank, output_dim=self.output_dim, **initializers_config(self))
        return config
