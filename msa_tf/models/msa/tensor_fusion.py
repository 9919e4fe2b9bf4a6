"""Tensor fusion models: TFN (outer product) and LMF (low-rank), sharing their subnetworks."""

import keras

from msa_tf.layers import Dropout, LowRankFusion, TensorFusion, UnimodalSubnetworks
from msa_tf.modalities import MODALITIES
from msa_tf.models.msa.components import (
    SentimentHead,
    SentimentModel,
    check_input_shapes,
    check_per_modality,
)
from msa_tf.models.registry import register
from msa_tf.validation import check_positive_int, per_key

# The default width of each modality's vector in TFN and LMF (never changed in place).
SUBNETWORK_WIDTHS = {"text": 128, "audio": 32, "vision": 32}


class _SubnetworkFusionModel(SentimentModel):
    """TFN and LMF: `UnimodalSubnetworks`, a fusion of the three vectors, `SentimentHead`.

    A subclass creates its fusion in `__init__` after calling this one, and defines
    `_build_fusion(vector_shapes)` (which makes its other layers and builds them all)
    and `_fuse(vectors, training)`, which map the three vectors to
    `(batch, post_fusion_dim)`.
    """

    def __init__(self, seq_len, text_dim, audio_dim, vision_dim, model_dim, post_fusion_dim, dropout,
                 text_vocab_size, num_classes, **kwargs):
        super().__init__(**kwargs)
        self._set_arguments(
            seq_len=seq_len, text_dim=text_dim, audio_dim=audio_dim, vision_dim=vision_dim,
            post_fusion_dim=post_fusion_dim, dropout=dropout, text_vocab_size=text_vocab_size,
            num_classes=num_classes,
        )
        self.model_dim = check_per_modality("model_dim", model_dim)
        widths = per_key("model_dim", model_dim, MODALITIES, check_positive_int)
        self.subnetworks = UnimodalSubnetworks(
            *(widths[m] for m in MODALITIES), dropout, text_vocab_size,
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
    `(model_dim["text"] + 1) * (model_dim["audio"] + 1) * (model_dim["vision"] + 1)`
    features; dropout, `Dense(post_fusion_dim)` and a `SentimentHead` give the
    outputs. Padding never changes an output, on either side of a sequence.

    Args:
        seq_len, text_dim, audio_dim, vision_dim: optional, the data arguments every
            zoo model takes (`None`: any); when given, the inputs are checked against
            them at build (the LSTM reads any length).
        model_dim: the width of each modality's vector, one int or a dict
            `{"text": ..., "audio": ..., "vision": ...}`.
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
    >>> model = TFN(model_dim={"text": 8, "audio": 4, "vision": 4}, post_fusion_dim=8,
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
        vision_dim=None,
        model_dim=SUBNETWORK_WIDTHS,
        post_fusion_dim=128,
        dropout=0.15,
        text_vocab_size=None,
        num_classes=None,
        **kwargs,
    ):
        super().__init__(seq_len, text_dim, audio_dim, vision_dim, model_dim, post_fusion_dim, dropout,
                         text_vocab_size, num_classes, **kwargs)
        self.fusion = TensorFusion(dtype=self.dtype_policy, name="fusion")

    def _build_fusion(self, vector_shapes):
        # Made here, after the subnetworks (which make their layers when built), so
        # the seeds of a seeded run are drawn in the order they always were.
        self.fusion_dropout = Dropout(self.dropout, dtype=self.dtype_policy, name="fusion_dropout")
        self.post_fusion = keras.layers.Dense(self.post_fusion_dim, activation="gelu",
                                              dtype=self.dtype_policy, name="post_fusion")
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
        seq_len, text_dim, audio_dim, vision_dim: optional, the data arguments every
            zoo model takes (`None`: any); when given, the inputs are checked against
            them at build (the LSTM reads any length).
        model_dim: the width of each modality's vector, one int or a dict
            `{"text": ..., "audio": ..., "vision": ...}`.
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
    >>> model = LMF(model_dim=8, rank=2, post_fusion_dim=8)
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
        vision_dim=None,
        model_dim=SUBNETWORK_WIDTHS,
        rank=4,
        post_fusion_dim=64,
        dropout=0.15,
        text_vocab_size=None,
        num_classes=None,
        **kwargs,
    ):
        super().__init__(seq_len, text_dim, audio_dim, vision_dim, model_dim, post_fusion_dim, dropout,
                         text_vocab_size, num_classes, **kwargs)
        self._set_arguments(rank=rank)
        self.fusion = LowRankFusion(rank, post_fusion_dim, dtype=self.dtype_policy, name="fusion")

    def _build_fusion(self, vector_shapes):
        # Made here, after the subnetworks (which make their layers when built), so
        # the seeds of a seeded run are drawn in the order they always were.
        self.fusion_dropout = Dropout(self.dropout, dtype=self.dtype_policy, name="fusion_dropout")
        self.fusion.build(vector_shapes)

    def _fuse(self, vectors, training):
        return self.fusion_dropout(self.fusion(vectors), training=training)
