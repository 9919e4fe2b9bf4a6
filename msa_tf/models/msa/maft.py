"""MAFT: masked LSTM encoders mixed by per-sample modality quality, two heads trained together."""

import keras
from keras import ops

from msa_tf.layers import Dropout, MaskedPooling, ModalityWeighting
from msa_tf.layers.masked_pooling import POOLING_METHODS
from msa_tf.modalities import MODALITIES
from msa_tf.models.msa.components import (
    SentimentHead,
    SentimentModel,
    check_input_shapes,
    modality_inputs,
)
from msa_tf.models.registry import register
from msa_tf.validation import check_choice, check_int


@register("maft")
@keras.saving.register_keras_serializable(package="msa_tf")
class MAFT(SentimentModel):
    """Modality-adaptive fusion: each sample weighs its modalities by their estimated quality.

    Each modality is read by its own LSTM, which skips padded steps (left or right),
    and pooled over its real steps (`MaskedPooling`). A small MLP per modality scores
    the quality of its pooled vector; a softmax over the modalities present in the
    sample turns the scores into weights (a modality whose mask is all `False` gets
    weight 0: a `ModalityWeighting`, as in `AdaptiveFusionHead`); the weighted sum of
    the vectors goes to one `SentimentHead` with both outputs, so a `compile()` with a
    loss for each trains regression and classification together. Read the weights
    with `model.quality_weights(inputs)`.

    Args:
        seq_len, text_dim, audio_dim, vision_dim: optional, the data arguments every
            zoo model takes (`None`: any); when given, the inputs are checked against
            them at build (the LSTMs read any length).
        model_dim: width of the LSTMs, the fused vector and the head.
        quality_dim: hidden width of each quality MLP.
        pooling: `"mean"`, `"max"`, `"attention"` or `"last"` (the final LSTM state).
        dropout: dropout on the pooled vectors and in the head, in [0, 1).
        text_vocab_size: `None` for text features, else the vocabulary of token ids
            (embedded at `model_dim`).
        num_classes: the classes of the `classification` output, at least 2.

    Call arguments:
        inputs: dict with `text`, `audio`, `vision` and optional boolean `*_mask`s.

    Returns `{"regression": (batch, 1), "classification": (batch, num_classes)}`
    (float32; classification as logits).

    Example:
    >>> model = MAFT(model_dim=8, quality_dim=4)
    >>> inputs = {"text": np.ones((2, 6, 5)), "audio": np.ones((2, 6, 4)),
    ...           "vision": np.ones((2, 6, 3)),
    ...           "vision_mask": np.array([[True] * 6, [False] * 6])}
    >>> {k: tuple(v.shape) for k, v in model(inputs).items()}
    {'regression': (2, 1), 'classification': (2, 3)}
    >>> weights = model.quality_weights(inputs)
    >>> float(weights["vision"][1])  # sample 1 has no vision
    0.0
    >>> round(float(sum(weights[m][0] for m in weights)), 5)
    1.0
    """

    def __init__(
        self,
        seq_len=None,
        text_dim=None,
        audio_dim=None,
        vision_dim=None,
        model_dim=64,
        quality_dim=16,
        pooling="mean",
        dropout=0.1,
        text_vocab_size=None,
        num_classes=3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._set_arguments(
            seq_len=seq_len, text_dim=text_dim, audio_dim=audio_dim, vision_dim=vision_dim,
            model_dim=model_dim, quality_dim=quality_dim,
            pooling=check_choice("pooling", pooling, POOLING_METHODS), dropout=dropout,
            text_vocab_size=text_vocab_size, num_classes=check_int("num_classes", num_classes, low=2),
        )
        policy = self.dtype_policy
        self.text_embedding = None
        if self.text_vocab_size is not None:
            self.text_embedding = keras.layers.Embedding(
                self.text_vocab_size, model_dim, dtype=policy, name="text_embedding"
            )
        # cuDNN is off on purpose: it accepts only right-padded masks and no all-False
        # row (a missing modality), and it cannot run under XLA.
        self.encoders = {
            m: keras.layers.LSTM(model_dim, return_sequences=True, use_cudnn=False,
                                 dtype=policy, name=f"{m}_lstm")
            for m in MODALITIES
        }
        self.poolers = {
            m: MaskedPooling(pooling, dtype=policy, name=f"{m}_pooling") for m in MODALITIES
        }
        self.dropouts = {
            m: Dropout(dropout, dtype=policy, name=f"{m}_dropout") for m in MODALITIES
        }
        self.quality = ModalityWeighting(quality_dim, dtype=policy, name="quality")
        self.head = SentimentHead(model_dim, dropout, num_classes, dtype=policy, name="head")

    def build(self, inputs_shape):
        check_input_shapes(self, inputs_shape)
        # Built first: it makes its layers now, and a seeded run draws their seeds
        # before those of attention pooling, as it always has.
        self.quality.build([(inputs_shape["text"][0], self.model_dim)] * len(MODALITIES))
        for m in MODALITIES:
            shape = tuple(inputs_shape[m])
            if m == "text" and self.text_embedding is not None:
                self.text_embedding.build(shape)
                shape = (*shape, self.model_dim)
            self.encoders[m].build(shape)
            encoded = (*shape[:2], self.model_dim)
            self.poolers[m].build(encoded)
        self.head.build((inputs_shape["text"][0], self.model_dim))

    def _fuse(self, inputs, training):
        """`(fused (batch, model_dim), weights (batch, 3) float32)`."""
        parsed = modality_inputs(inputs)
        vectors, present = [], []
        for m, (sequence, mask) in parsed.items():
            if m == "text" and self.text_embedding is not None:
                sequence = self.text_embedding(sequence)
            encoded = self.encoders[m](sequence, mask=mask, training=training)
            vectors.append(self.dropouts[m](self.poolers[m](encoded, mask=mask), training=training))
            present.append(ops.any(mask, axis=1))
        fused, weights = self.quality(vectors, mask=present)
        return ops.cast(fused, self.compute_dtype), weights

    def call(self, inputs, training=None):
        fused, _ = self._fuse(inputs, training)
        return self.head(fused, training=training)

    def quality_weights(self, inputs):
        """The fusion weight of each modality in each sample (inference mode).

        Args:
            inputs: the input dict, as for `call`.

        Returns `{modality: (batch,) float32}`; the weights of a sample sum to 1
        over its present modalities, and a missing modality (all-`False` mask) has 0.
        """
        if not self.built:
            self(inputs, training=False)
        _, weights = self._fuse(inputs, training=False)
        return {m: weights[:, index] for index, m in enumerate(MODALITIES)}
