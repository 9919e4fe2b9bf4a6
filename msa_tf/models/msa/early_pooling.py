"""Early-pooling models: each modality is encoded and pooled on its own, then joined."""

import keras
from keras import ops

from msa_tf.layers import MaskedPooling
from msa_tf.layers.masked_pooling import POOLING_METHODS
from msa_tf.modalities import MODALITIES
from msa_tf.models.msa.components import (
    SentimentHead,
    SentimentModel,
    check_input_shapes,
    modality_inputs,
    sequence_encoders,
)
from msa_tf.models.registry import register
from msa_tf.validation import check_choice, check_divisible


@register("msa")
@keras.saving.register_keras_serializable(package="msa_tf")
class MSAModel(SentimentModel):
    """Per-modality transformer encoders, masked pooling right after each, an MLP head.

    Each modality in `modalities` is projected to `model_dim`, gets learnable
    positions and `num_layers` transformer blocks, and is pooled over its real steps;
    the pooled vectors are concatenated into an MLP (`SentimentHead`). Modalities
    only meet in the head: the early-pooling baseline.

    Args:
        seq_len: the longest sequence (the size of the position tables), one int or a
            dict per modality; `None`: the lengths of the inputs the model is built on.
        text_dim, audio_dim, vision_dim: input feature sizes, `None`: taken from the
            inputs; `text_dim` is unused with `text_vocab_size`. Inputs that contradict
            a given data argument raise `ValueError` when the model is built.
        model_dim: the common width.
        num_heads: attention heads; must divide `model_dim`.
        ff_dim: feed-forward width of every block.
        num_layers: transformer blocks per modality (0: projection and positions only).
        pooling: `"mean"`, `"max"`, `"attention"` or `"last"`.
        dropout: dropout everywhere, in [0, 1).
        text_vocab_size: `None` for text features, else the vocabulary of token ids.
        num_classes: `None`, or the classes of an extra `classification` output.
        modalities: the modalities the model reads, a subset of text, audio, vision.

    Call arguments:
        inputs: dict with the modalities and optional boolean `*_mask`s.

    Returns `{"regression": (batch, 1)}` (float32), plus `"classification"` logits.

    Example:
    >>> model = MSAModel(model_dim=8, num_heads=2, ff_dim=16)
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
        model_dim=64,
        num_heads=4,
        ff_dim=128,
        num_layers=1,
        pooling="mean",
        dropout=0.1,
        text_vocab_size=None,
        num_classes=None,
        modalities=MODALITIES,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not (isinstance(modalities, (list, tuple)) and modalities
                and set(modalities) <= set(MODALITIES) and len(set(modalities)) == len(modalities)):
            raise ValueError(
                f"`modalities` must be distinct names among {MODALITIES}; "
                f"received modalities={modalities!r}"
            )
        self._set_arguments(
            seq_len=seq_len, text_dim=text_dim, audio_dim=audio_dim, vision_dim=vision_dim,
            model_dim=model_dim, num_heads=num_heads, ff_dim=ff_dim, num_layers=num_layers,
            pooling=check_choice("pooling", pooling, POOLING_METHODS), dropout=dropout,
            text_vocab_size=text_vocab_size, num_classes=num_classes, modalities=tuple(modalities),
        )
        check_divisible("model_dim", model_dim, "num_heads", num_heads)
        self.encoders = sequence_encoders(self, self.modalities)
        self.poolers = {
            m: MaskedPooling(pooling, dtype=self.dtype_policy, name=f"{m}_pooling")
            for m in self.modalities
        }
        self.head = SentimentHead(model_dim, dropout, num_classes, dtype=self.dtype_policy,
                                  name="head")

    def build(self, inputs_shape):
        check_input_shapes(self, inputs_shape, self.modalities, needs_lengths=True)
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
    >>> model = UnimodalModel("audio", model_dim=8, num_heads=2, ff_dim=16)
    >>> model({"audio": np.ones((2, 6, 4))})["regression"].shape
    TensorShape([2, 1])
    """

    def __init__(
        self,
        modality="text",
        seq_len=None,
        text_dim=None,
        audio_dim=None,
        vision_dim=None,
        model_dim=64,
        num_heads=4,
        ff_dim=128,
        num_layers=1,
        pooling="mean",
        dropout=0.1,
        text_vocab_size=None,
        num_classes=None,
        **kwargs,
    ):
        self.modality = check_choice("modality", modality, MODALITIES)
        super().__init__(
            seq_len=seq_len, text_dim=text_dim, audio_dim=audio_dim, vision_dim=vision_dim,
            model_dim=model_dim, num_heads=num_heads, ff_dim=ff_dim, num_layers=num_layers,
            pooling=pooling, dropout=dropout, text_vocab_size=text_vocab_size,
            num_classes=num_classes, modalities=(modality,), **kwargs,
        )
