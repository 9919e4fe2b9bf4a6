"""The sequence-level cross-modal model: fusion before any pooling."""

import keras

from msa_tf.layers import AdaptiveFusionHead, CrossModalFusion
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


@register("msa_seqlevel")
@keras.saving.register_keras_serializable(package="msa_tf")
class MSASeqLevelModel(SentimentModel):
    """Per-modality encoders, sequence-level `CrossModalFusion`, an `AdaptiveFusionHead`.

    Each modality is projected to `model_dim`, gets learnable positions and
    `n_layers_mod` transformer blocks; the three sequences are fused by text-anchored
    cross-attention over `n_layers_fuse` layers without pooling first; the fused
    sequences are pooled with their masks and mixed with learned modality weights
    (`model.fusion_head.modality_weights`); an MLP gives the outputs.

    Args:
        seq_len: the longest sequence, one int or a dict per modality.
        text_dim, audio_dim, video_dim: input feature sizes (the vision input is called
            `vision`); `text_dim` is unused with `text_vocab_size`.
        model_dim: the common width.
        num_heads: attention heads; must divide `model_dim`.
        ff_dim: feed-forward width of every block.
        n_layers_mod: transformer blocks per modality encoder.
        n_layers_fuse: cross-modal fusion layers.
        bidirectional_fusion: also let audio and vision attend to text.
        pooling_method: `"mean"` or `"attention"`.
        dropout_rate: dropout everywhere, in [0, 1).
        text_vocab_size: `None` for text features, else the vocabulary of token ids.
        num_classes: `None`, or the classes of an extra `classification` output.

    Call arguments:
        inputs: dict with `text`, `audio`, `vision` and optional boolean `*_mask`s.

    Returns `{"regression": (batch, 1)}` (float32), plus `"classification"` logits.

    Example:
    >>> model = MSASeqLevelModel(seq_len=6, text_dim=5, audio_dim=4, video_dim=3,
    ...                          model_dim=8, num_heads=2, ff_dim=16)
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
        n_layers_mod=1,
        n_layers_fuse=1,
        bidirectional_fusion=False,
        pooling_method="attention",
        dropout_rate=0.1,
        text_vocab_size=None,
        num_classes=None,
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
        self.n_layers_mod = n_layers_mod
        self.n_layers_fuse = n_layers_fuse
        self.bidirectional_fusion = bidirectional_fusion
        self.pooling_method = check_choice("pooling_method", pooling_method, ("mean", "attention"))
        self.dropout_rate = check_rate("dropout_rate", dropout_rate)
        self.text_vocab_size = text_vocab_size
        self.num_classes = num_classes
        self.encoders = sequence_encoders(
            MODALITIES, seq_len, model_dim, num_heads, ff_dim, n_layers_mod, dropout_rate,
            text_vocab_size, self.dtype_policy,
        )
        self.fusion = CrossModalFusion(
            model_dim, num_heads, n_layers=n_layers_fuse, bidirectional=bidirectional_fusion,
            ff_dim=ff_dim, dropout=dropout_rate, dtype=self.dtype_policy, name="fusion",
        )
        self.fusion_head = AdaptiveFusionHead(
            pooling_method, modality_names=MODALITIES, dtype=self.dtype_policy, name="fusion_head"
        )
        self.head = SentimentHead(model_dim, dropout_rate, num_classes, dtype=self.dtype_policy,
                                  name="head")

    def build(self, inputs_shape):
        check_modalities(inputs_shape)
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
