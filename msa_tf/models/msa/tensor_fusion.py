"""Tensor fusion models: TFN (outer product) and LMF (low-rank), sharing their subnetworks."""

import keras
from keras import ops

from msa_tf.layers import MaskedPooling
from msa_tf.models.msa.components import (
    MODALITIES,
    SentimentHead,
    SentimentModel,
    check_data_arguments,
    check_input_shapes,
    check_modalities,
    modality_inputs,
    optional,
)
from msa_tf.models.registry import register
from msa_tf.validation import check_positive_int, check_rate


def _masked_lstm(units, dtype, name):
    # cuDNN is off on purpose: it accepts only right-padded masks and no all-False
    # row (a missing modality), and it cannot run under XLA. The generic kernel
    # carries the state over every masked step, wherever the padding is.
    return keras.layers.LSTM(units, use_cudnn=False, dtype=dtype, name=name)


@keras.saving.register_keras_serializable(package="msa_tf")
class UnimodalSubnetworks(keras.layers.Layer):
    """The unimodal subnetworks of TFN and LMF: one vector per modality.

    Text (features, or token ids through an `Embedding`) goes through an LSTM that
    skips the padded steps; its final state goes through dropout and a linear
    `Dense(text_hidden)`. Audio and vision are averaged over their real steps and go
    through dropout and three `Dense` layers. A modality with no real step in a
    sample reads as zeros (an LSTM that never stepped, a zero mean).

    The MLP uses GELU where the papers use ReLU: with small widths a ReLU layer can
    go dead for a whole batch and stop every gradient behind it.

    Args:
        text_hidden, audio_hidden, vision_hidden: the width of each modality's vector.
        dropout: dropout rate, in [0, 1).
        text_vocab_size: `None` for text features, else the vocabulary of token ids
            (embedded at `text_hidden`).

    Call arguments:
        inputs: dict with `text`, `audio`, `vision` and optional boolean `*_mask`s.
        training: Python boolean, enables dropout.

    Returns `[text (batch, text_hidden), audio (batch, audio_hidden),
    vision (batch, vision_hidden)]`.

    Example:
    >>> layer = UnimodalSubnetworks(8, 4, 3)
    >>> inputs = {"text": np.ones((2, 6, 5)), "audio": np.ones((2, 6, 4)),
    ...           "vision": np.ones((2, 6, 3))}
    >>> [tuple(v.shape) for v in layer(inputs)]
    [(2, 8), (2, 4), (2, 3)]
    """

    def __init__(self, text_hidden, audio_hidden, vision_hidden, dropout=0.0,
                 text_vocab_size=None, **kwargs):
        super().__init__(**kwargs)
        self.text_hidden = check_positive_int("text_hidden", text_hidden)
        self.audio_hidden = check_positive_int("audio_hidden", audio_hidden)
        self.vision_hidden = check_positive_int("vision_hidden", vision_hidden)
        self.dropout = check_rate("dropout", dropout)
        self.text_vocab_size = optional(check_positive_int)("text_vocab_size", text_vocab_size)
        policy = self.dtype_policy
        self.text_embedding = None
        if self.text_vocab_size is not None:
            self.text_embedding = keras.layers.Embedding(
                self.text_vocab_size, self.text_hidden, dtype=policy, name="text_embedding"
            )
        self.text_lstm = _masked_lstm(self.text_hidden, policy, "text_lstm")
        self.text_dense = keras.layers.Dense(self.text_hidden, dtype=policy, name="text_dense")
        self.poolers, self.mlps = {}, {}
        for m, width in (("audio", self.audio_hidden), ("vision", self.vision_hidden)):
            self.poolers[m] = MaskedPooling("mean", dtype=policy, name=f"{m}_pooling")
            self.mlps[m] = [
                keras.layers.Dense(width, activation="gelu", dtype=policy, name=f"{m}_dense_{i}")
                for i in range(3)
            ]
        self.dropouts = {
            m: keras.layers.Dropout(self.dropout, dtype=policy, name=f"{m}_dropout")
            for m in MODALITIES
        }

    @property
    def widths(self):
        return {"text": self.text_hidden, "audio": self.audio_hidden, "vision": self.vision_hidden}

    def build(self, inputs_shape):
        check_modalities(inputs_shape)
        text_shape = tuple(inputs_shape["text"])
        if self.text_embedding is not None:
            self.text_embedding.build(text_shape)
            text_shape = (*text_shape[:2], self.text_hidden)
        self.text_lstm.build(text_shape)
        self.text_dense.build((text_shape[0], self.text_hidden))
        for m in ("audio", "vision"):
            shape = tuple(inputs_shape[m])
            self.poolers[m].build(shape)
            for dense in self.mlps[m]:
                dense.build((shape[0], shape[-1]))
                shape = (shape[0], self.widths[m])

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
            text_vocab_size=self.text_vocab_size,
        )
        return config


def _with_ones(vector):
    ones = ops.ones((ops.shape(vector)[0], 1), dtype=vector.dtype)
    return ops.concatenate([ones, vector], axis=-1)


def _check_vector_shapes(layer_name, inputs_shape):
    if not isinstance(inputs_shape, (list, tuple)) or not inputs_shape or not all(
        isinstance(shape, (list, tuple)) and len(shape) == 2 and shape[-1] is not None
        for shape in inputs_shape
    ):
        raise ValueError(
            f"`inputs` of {layer_name} must be a list of (batch, dim) vectors with known dims; "
            f"received shapes {inputs_shape}"
        )


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
        _check_vector_shapes("TensorFusion", inputs_shape)

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
    learned `fusion_weights` `(rank,)`, plus a `fusion_bias` `(output_dim,)`:

        out = sum_r fusion_weights[r] * prod_m ([1, h_m] @ W_m[r]) + fusion_bias

    This equals a linear map of the full `TensorFusion` outer product by a weight
    tensor of rank `rank`, without ever forming the product.

    Args:
        rank: number of rank-1 terms.
        output_dim: width of the fused vector.

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

    def __init__(self, rank, output_dim, **kwargs):
        super().__init__(**kwargs)
        self.rank = check_positive_int("rank", rank)
        self.output_dim = check_positive_int("output_dim", output_dim)

    def build(self, inputs_shape):
        _check_vector_shapes("LowRankFusion", inputs_shape)
        self.factors = [
            self.add_weight(
                name=f"factor_{index}", shape=(self.rank, shape[-1] + 1, self.output_dim),
                initializer="glorot_normal",
            )
            for index, shape in enumerate(inputs_shape)
        ]
        self.fusion_weights = self.add_weight(
            name="fusion_weights", shape=(self.rank,), initializer="ones"
        )
        self.fusion_bias = self.add_weight(
            name="fusion_bias", shape=(self.output_dim,), initializer="zeros"
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
        config.update(rank=self.rank, output_dim=self.output_dim)
        return config


class _SubnetworkFusionModel(SentimentModel):
    """TFN and LMF: `UnimodalSubnetworks`, a fusion of the three vectors, `SentimentHead`.

    A subclass creates its fusion in `__init__` after calling this one, and defines
    `_build_fusion(vector_shapes)` and `_fuse(vectors, training)`, which map the
    three vectors to `(batch, post_fusion_dim)`.
    """

    def __init__(self, seq_len, text_dim, audio_dim, video_dim, text_hidden, audio_hidden,
                 vision_hidden, post_fusion_dim, dropout, text_vocab_size, num_classes, **kwargs):
        super().__init__(**kwargs)
        check_data_arguments(seq_len, text_dim, audio_dim, video_dim)
        self.seq_len = seq_len
        self.text_dim = text_dim
        self.audio_dim = audio_dim
        self.video_dim = video_dim
        self.text_hidden = text_hidden
        self.audio_hidden = audio_hidden
        self.vision_hidden = vision_hidden
        self.post_fusion_dim = check_positive_int("post_fusion_dim", post_fusion_dim)
        self.dropout = dropout
        self.text_vocab_size = text_vocab_size
        self.num_classes = num_classes
        self.subnetworks = UnimodalSubnetworks(
            text_hidden, audio_hidden, vision_hidden, dropout, text_vocab_size,
            dtype=self.dtype_policy, name="subnetworks",
        )
        self.head = SentimentHead(post_fusion_dim, dropout, num_classes, dtype=self.dtype_policy,
                                  name="head")

    def build(self, inputs_shape):
        check_input_shapes(self, inputs_shape)
        self.subnetworks.build(inputs_shape)
        vector_shapes = self.subnetworks.compute_output_shape(inputs_shape)
        self._build_fusion(vector_shapes)
        self.head.build((inputs_shape["text"][0], self.post_fusion_dim))

    def call(self, inputs, training=None):
        vectors = self.subnetworks(inputs, training=training)
        return self.head(self._fuse(vectors, training), training=training)


@register("tfn")
@keras.saving.register_keras_serializable(package="msa_tf")
class TFN(_SubnetworkFusionModel):
    """Tensor Fusion Network: unimodal subnetworks, a 3-way outer product, an MLP.

    `UnimodalSubnetworks` give one vector per modality (a masked LSTM for text,
    masked means through an MLP for audio and vision); `TensorFusion` takes the
    outer product of `[1, h_text]`, `[1, h_audio]`, `[1, h_vision]`, a vector of
    `(text_hidden + 1) * (audio_hidden + 1) * (vision_hidden + 1)` features; dropout,
    `Dense(post_fusion_dim)` and a `SentimentHead` give the outputs. Padding never
    changes an output, on either side of a sequence.

    Args:
        seq_len, text_dim, audio_dim, video_dim: optional, the data arguments every
            zoo model takes; when given, the inputs are checked against them at build
            (the LSTM reads any length). `video_dim` is the size of `vision`.
        text_hidden, audio_hidden, vision_hidden: width of each modality's vector.
        post_fusion_dim: width of the two hidden layers after the fusion.
        dropout: dropout everywhere, in [0, 1).
        text_vocab_size: `None` for text features, else the vocabulary of token ids.
        num_classes: `None`, or the classes of an extra `classification` output.

    Call arguments:
        inputs: dict with `text`, `audio`, `vision` and optional boolean `*_mask`s.

    Returns `{"regression": (batch, 1)}` (float32), plus `"classification"` logits.

    Reference: Zadeh et al., "Tensor Fusion Network for Multimodal Sentiment
    Analysis", EMNLP 2017.

    Example:
    >>> model = TFN(text_hidden=8, audio_hidden=4, vision_hidden=4, post_fusion_dim=8,
    ...             num_classes=3)
    >>> inputs = {"text": np.ones((2, 6, 5)), "audio": np.ones((2, 6, 4)),
    ...           "vision": np.ones((2, 6, 3))}
    >>> {k: tuple(v.shape) for k, v in model(inputs).items()}
    {'regression': (2, 1), 'classification': (2, 3)}
    """

    def __init__(
        self,
        seq_len=None,
        text_dim=None,
        audio_dim=None,
        video_dim=None,
        text_hidden=128,
        audio_hidden=32,
        vision_hidden=32,
        post_fusion_dim=128,
        dropout=0.15,
        text_vocab_size=None,
        num_classes=None,
        **kwargs,
    ):
        super().__init__(seq_len, text_dim, audio_dim, video_dim, text_hidden, audio_hidden,
                         vision_hidden, post_fusion_dim, dropout, text_vocab_size, num_classes,
                         **kwargs)
        self.fusion = TensorFusion(dtype=self.dtype_policy, name="fusion")
        self.fusion_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy,
                                                   name="fusion_dropout")
        self.post_fusion = keras.layers.Dense(post_fusion_dim, activation="gelu",
                                              dtype=self.dtype_policy, name="post_fusion")

    def _build_fusion(self, vector_shapes):
        self.fusion.build(vector_shapes)
        self.post_fusion.build(self.fusion.compute_output_shape(vector_shapes))

    def _fuse(self, vectors, training):
        fused = self.fusion_dropout(self.fusion(vectors), training=training)
        return self.post_fusion(fused)


@register("lmf")
@keras.saving.register_keras_serializable(package="msa_tf")
class LMF(_SubnetworkFusionModel):
    """Low-rank Multimodal Fusion: TFN's subnetworks, a rank-`rank` fusion, an MLP.

    The same `UnimodalSubnetworks` as `TFN`; `LowRankFusion` maps the three vectors
    to `post_fusion_dim` features with `rank` modality-specific factors per modality,
    the same function class as a TFN whose fusion weight tensor has rank `rank`,
    at a cost linear in the widths; a `SentimentHead` gives the outputs. Padding
    never changes an output, on either side of a sequence.

    Args:
        seq_len, text_dim, audio_dim, video_dim: optional, the data arguments every
            zoo model takes; when given, the inputs are checked against them at build
            (the LSTM reads any length). `video_dim` is the size of `vision`.
        text_hidden, audio_hidden, vision_hidden: width of each modality's vector.
        rank: the rank of the fusion (number of factors per modality).
        post_fusion_dim: width of the fused vector and of the head's hidden layer.
        dropout: dropout everywhere, in [0, 1).
        text_vocab_size: `None` for text features, else the vocabulary of token ids.
        num_classes: `None`, or the classes of an extra `classification` output.

    Call arguments:
        inputs: dict with `text`, `audio`, `vision` and optional boolean `*_mask`s.

    Returns `{"regression": (batch, 1)}` (float32), plus `"classification"` logits.

    Reference: Liu et al., "Efficient Low-rank Multimodal Fusion with
    Modality-Specific Factors", ACL 2018.

    Example:
    >>> model = LMF(text_hidden=8, audio_hidden=4, vision_hidden=4, rank=2,
    ...             post_fusion_dim=8)
    >>> inputs = {"text": np.ones((2, 6, 5)), "audio": np.ones((2, 6, 4)),
    ...           "vision": np.ones((2, 6, 3))}
    >>> model(inputs)["regression"].shape
    TensorShape([2, 1])
    """

    def __init__(
        self,
        seq_len=None,
        text_dim=None,
        audio_dim=None,
        video_dim=None,
        text_hidden=128,
        audio_hidden=32,
        vision_hidden=32,
        rank=4,
        post_fusion_dim=64,
        dropout=0.15,
        text_vocab_size=None,
        num_classes=None,
        **kwargs,
    ):
        super().__init__(seq_len, text_dim, audio_dim, video_dim, text_hidden, audio_hidden,
                         vision_hidden, post_fusion_dim, dropout, text_vocab_size, num_classes,
                         **kwargs)
        self.rank = rank
        self.fusion = LowRankFusion(rank, post_fusion_dim, dtype=self.dtype_policy, name="fusion")
        self.fusion_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy,
                                                   name="fusion_dropout")

    def _build_fusion(self, vector_shapes):
        self.fusion.build(vector_shapes)

    def _fuse(self, vectors, training):
        return self.fusion_dropout(self.fusion(vectors), training=training)
