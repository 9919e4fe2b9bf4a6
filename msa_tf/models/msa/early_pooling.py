"""Early-pooling models: each modality is encoded and pooled on its own, then joined."""

import keras
from keras import ops

from msa_tf.layers import MaskedPooling
from msa_tf.layers.masked_pooling import POOLING_METHODS
from msa_tf.models.msa.components import (
    MODALITIES,
    SentimentHead,
    SentimentModel,
    check_modalities,
    modality_inputs,
    sequence_encoders,
)
from msa_tf.models.registry import register
from msa_tf.validation import check_choice, check_positive_int, check_rate


@register("msa")
@keras.saving.register_keras_serializable(package="msa_tf")
class MSAModel(SentimentModel):
    """Per-modality transformer encoders, masked pooling right after each, an MLP head.

    Each modality in `modalities` is projected to `model_dim`, gets learnable
    positions and `n_layers` transformer blocks, and is pooled over its real steps;
    the pooled vectors are concatenated into an MLP (`SentimentHead`). Modalities
    only meet in the head: the early-pooling baseline.

    Args:
        seq_len: the longest sequence, one int or a dict per modality.
        text_dim, audio_dim, video_dim: input feature sizes (the vision input is called
            `vision`); `text_dim` is unused with `text_vocab_size`.
        model_dim: the common width.
        num_heads: attention heads; must divide `model_dim`.
        ff_dim: feed-forward width of every block.
        n_layers: transformer blocks per modality.
        pooling: `"mean"`, `"max"`, `"attention"` or `"last"`.
        dropout_rate: dropout everywhere, in [0, 1).
        text_vocab_size: `None` for text features, else the vocabulary of token ids.
        num_classes: `None`, or the classes of an extra `classification` output.
        modalities: the modalities the model reads, a subset of text, audio, vision.

    Call arguments:
        inputs: dict with the modalities and optional boolean `*_mask`s.

    Returns `{"regression": (batch, 1)}` (float32), plus `"classification"` logits.

    Example:
    >>> model = MSAModel(seq_len=6, text_dim=5, audio_dim=4, video_dim=3, model_dim=8,
    ...                  num_heads=2, ff_dim=16)
    >>> inputs = {"text": np.ones((2, 6, 5)), "audio": np.ones((2, 6, 4)),
    ...           "vision": np.ones((2, 6, 3))}
    >>> model(inputs)["regression"].shape
    TensorShape([2, 1])
    """

    def __init__(
        self,
        seq_len=50,
        text_dim=768,
        audio_dim=74,
        video_dim=35,
        model_dim=64,
        num_heads=4,
        ff_dim=128,
        n_layers=1,
        pooling="mean",
        dropout_rate=0.1,
        text_vocab_size=None,
        num_classes=None,
        modalities=MODALITIES,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.seq_len = seq_len
        self.text_dim = check_positive_int("text_dim", text_dim)
        self.audio_dim = check_positive_int("audio_dim", audio_dim)
        self.video_dim = check_positive_int("video_dim", video_dim)
        self.model_dim = model_dim
        self.num_heads = num_heads
        self.ff_dim = ff_dim
        self.n_layers = n_layers
        self.pooling = check_choice("pooling", pooling, POOLING_METHODS)
        self.dropout_rate = check_rate("dropout_rate", dropout_rate)
        self.text_vocab_size = text_vocab_size
        self.num_classes = num_classes
        self.modalities = tuple(modalities)
        if not self.modalities or any(m not in MODALITIES for m in self.modalities) or len(
            set(self.modalities)
        ) != len(self.modalities):
            raise ValueError(
                f"`modalities` must be distinct names among {MODALITIES}; "
                f"received modalities={modalities!r}"
            )
        self.encoders = sequence_encoders(
            self.modalities, seq_len, model_dim, num_heads, ff_dim, n_layers, dropout_rate,
            text_vocab_size, self.dtype_policy,
        )
        self.poolers = {
            m: MaskedPooling(pooling, dtype=self.dtype_policy, name=f"{m}_pooling")
            for m in self.modalities
        }
        self.head = SentimentHead(model_dim, dropout_rate, num_classes, dtype=self.dtype_policy,
                                  name="head")

    def build(self, inputs_shape):
        check_modalities(inputs_shape, self.modalities)
        for m in self.modalities:
            self.encoders[m].build(inputs_shape[m])
            self.poolers[m].build((*inputs_shape[m][:2], self.model_dim))
        batch = inputs_shape[self.modalities[0]][0]
        self.head.build((batch, self.model_dim * len(self.modalities)))

    def call(self, inputs, training=None):
        parsed = modality_inputs(inputs, self.modalities)
        pooled = [
            self.poolers[m](self.encoders[m](x, mask=mask, training=training), mask=mask)
            for m, (x, mask) in parsed.items()
        ]
        joined = pooled[0] if len(pooled) == 1 else ops.concatenate(pooled, axis=-1)
        return self.head(joined, training=training)


@register("unimodal")
@keras.saving.register_keras_serializable(package="msa_tf")
class UnimodalModel(MSAModel):
    """`MSAModel` on one named modality: the baseline for ablations.

    Takes the full MSA input dict and reads only `modality`.

    Args:
        modality: `"text"`, `"audio"` or `"vision"`.
        Other arguments: as for `MSAModel` (without `modalities`).

    Example:
    >>> model = UnimodalModel("audio", seq_len=6, audio_dim=4, model_dim=8, num_heads=2,
    ...                       ff_dim=16)
    >>> model({"audio": np.ones((2, 6, 4))})["regression"].shape
    TensorShape([2, 1])
    """

    def __init__(
        self,
        modality="text",
        seq_len=50,
        text_dim=768,
        audio_dim=74,
        video_dim=35,
        model_dim=64,
        num_heads=4,
        ff_dim=128,
        n_layers=1,
        pooling="mean",
        dropout_rate=0.1,
        text_vocab_size=None,
        num_classes=None,
        **kwargs,
    ):
        self.modality = check_choice("modality", modality, MODALITIES)
        super().__init__(
            seq_len=seq_len, text_dim=text_dim, audio_dim=audio_dim, video_dim=video_dim,
            model_dim=model_dim, num_heads=num_heads, ff_dim=ff_dim, n_layers=n_layers,
            pooling=pooling, dropout_rate=dropout_rate, text_vocab_size=text_vocab_size,
            num_classes=num_classes, modalities=(modality,), **kwargs,
        )
