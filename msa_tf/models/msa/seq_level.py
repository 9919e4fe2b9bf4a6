"""The sequence-level cross-modal model: fusion before any pooling."""

import keras

from msa_tf.layers import AdaptiveFusionHead, CrossModalFusion
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


@register("msa_seqlevel")
@keras.saving.register_keras_serializable(package="msa_tf")
class MSASeqLevelModel(SentimentModel):
    """Per-modality encoders, sequence-level `CrossModalFusion`, an `AdaptiveFusionHead`.

    Each modality is projected to `model_dim`, gets learnable positions and
    `num_layers` transformer blocks; the three sequences are fused by text-anchored
    cross-attention over `num_cross_layers` layers without pooling first; the fused
    sequences are pooled with their masks and mixed with learned modality weights
    (`model.fusion_head.modality_weights`); an MLP gives the outputs.

    Args:
        seq_len: the longest sequence (the size of the position tables), one int or a
            dict per modality; `None`: the lengths of the inputs the model is built on.
        text_dim, audio_dim, vision_dim: input feature sizes, `None`: taken from the
            inputs; `text_dim` is unused with `text_vocab_size`. Inputs that contradict
            a given data argument raise `ValueError` when the model is built.
        model_dim: the common width.
        num_heads: attention heads; must divide `model_dim`.
        ff_dim: feed-forward width of every block.
        num_layers: transformer blocks per modality encoder (0: projection and
            positions only).
        num_cross_layers: cross-modal fusion layers.
        bidirectional_fusion: also let audio and vision attend to text.
        pooling: `"mean"` or `"attention"`.
        dropout: dropout everywhere, in [0, 1).
        text_vocab_size: `None` for text features, else the vocabulary of token ids.
        num_classes: `None`, or the classes of an extra `classification` output.

    Call arguments:
        inputs: dict with `text`, `audio`, `vision` and optional boolean `*_mask`s.

    Returns `{"regression": (batch, 1)}` (float32), plus `"classification"` logits.

    Example:
    >>> model = MSASeqLevelModel(model_dim=8, num_heads=2, ff_dim=16)
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
        num_cross_layers=1,
        bidirectional_fusion=False,
        pooling="attention",
        dropout=0.1,
        text_vocab_size=None,
        num_classes=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._set_arguments(
            seq_len=seq_len, text_dim=text_dim, audio_dim=audio_dim, vision_dim=vision_dim,
            model_dim=model_dim, num_heads=num_heads, ff_dim=ff_dim, num_layers=num_layers,
            num_cross_layers=num_cross_layers, bidirectional_fusion=bidirectional_fusion,
            pooling=check_choice("pooling", pooling, AdaptiveFusionHead.POOLING_METHODS),
            dropout=dropout, text_vocab_size=text_vocab_size, num_classes=num_classes,
        )
        check_divisible("model_dim", model_dim, "num_heads", num_heads)
        self.encoders = sequence_encoders(self)
        self.fusion = CrossModalFusion(
            model_dim, num_heads, num_cross_layers, bidirectional=bidirectional_fusion,
            ff_dim=ff_dim, dropout=dropout, dtype=self.dtype_policy, name="fusion",
        )
        self.fusion_head = AdaptiveFusionHead(
            pooling, modality_names=MODALITIES, dtype=self.dtype_policy, name="fusion_head"
        )
        self.head = SentimentHead(model_dim, dropout, num_classes, dtype=self.dtype_policy,
                                  name="head")

    def build(self, inputs_shape):
        check_input_shapes(self, inputs_shape, needs_lengths=True)
        encoded = {}
        for m in MODALITIES:
            self.encoders[m].build(inputs_shape[m])
            encoded[m] = (*inputs_shape[m][:2], self.model_dim)
        self.fusion.build(*(encoded[m] for m in MODALITIES))
        self.fusion_head.build([encoded[m] for m in MODALITIES])
        self.head.build((inputs_shape["text"][0], self.model_dim))

    def call(self, inputs, training=None):
        parsed = modality_inputs(inputs)
        masks = [parsed[m][1] for m in MODALITIES]
        encoded = [self.encoders[m](x, mask=mask, training=training) for m, (x, mask) in parsed.items()]
        fused = self.fusion(*encoded, *masks, training=training)
        return self.head(self.fusion_head(list(fused), mask=masks), training=training)
