"""MAFT: masked LSTM encoders mixed by per-sample modality quality, two heads trained together."""

import keras
from keras import ops

from msa_tf.layers import MaskedPooling
from msa_tf.layers.masked_pooling import POOLING_METHODS
from msa_tf.models.msa.components import (
    MODALITIES,
    SentimentHead,
    SentimentModel,
    check_data_arguments,
    check_input_shapes,
    modality_inputs,
)
from msa_tf.models.registry import register
from msa_tf.validation import check_choice, check_positive_int, check_rate


@register("maft")
@keras.saving.register_keras_serializable(package="msa_tf")
class MAFT(SentimentModel):
    """Modality-adaptive fusion: each sample weighs its modalities by their estimated quality.

    Each modality is read by its own LSTM, which skips padded steps (left or right),
    and pooled over its real steps (`MaskedPooling`). A small MLP per modality scores
    the quality of its pooled vector; a softmax over the modalities present in the
    sample turns the scores into weights (a modality whose mask is all `False` gets
    weight 0, the same masked softmax as `AdaptiveFusionHead`); the weighted sum of
    the vectors goes to one `SentimentHead` with both outputs, so a `compile()` with a
    loss for each trains regression and classification together. Read the weights
    with `model.quality_weights(inputs)`.

    Args:
        seq_len, text_dim, audio_dim, video_dim: optional, the data arguments every
            zoo model takes; when given, the inputs are checked against them at build
            (the LSTMs read any length). `video_dim` is the size of `vision`.
        hidden_dim: width of the LSTMs, the fused vector and the head.
        quality_hidden: hidden width of each quality MLP.
        pooling: `"mean"`, `"max"`, `"attention"` or `"last"` (the final LSTM state).
        dropout: dropout on the pooled vectors and in the head, in [0, 1).
        text_vocab_size: `None` for text features, else the vocabulary of token ids
            (embedded at `hidden_dim`).
        num_classes: the classes of the `classification` output, at least 2.

    Call arguments:
        inputs: dict with `text`, `audio`, `vision` and optional boolean `*_mask`s.

    Returns `{"regression": (batch, 1), "classification": (batch, num_classes)}`
    (float32; classification as logits).

    Example:
    >>> model = MAFT(hidden_dim=8, quality_hidden=4)
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
        video_dim=None,
        hidden_dim=64,
        quality_hidden=16,
        pooling="mean",
        dropout=0.1,
        text_vocab_size=None,
        num_classes=3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_data_arguments(seq_len, text_dim, audio_dim, video_dim)
        self.seq_len = seq_len
        self.text_dim = text_dim
        self.audio_dim = audio_dim
        self.video_dim = video_dim
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        self.quality_hidden = check_positive_int("quality_hidden", quality_hidden)
        self.pooling = check_choice("pooling", pooling, POOLING_METHODS)
        self.dropout = check_rate("dropout", dropout)
        self.text_vocab_size = None if text_vocab_size is None else check_positive_int(
            "text_vocab_size", text_vocab_size
        )
        if check_positive_int("num_classes", num_classes) < 2:
            raise ValueError(
                f"`num_classes` must be an integer >= 2 (MAFT always has a classification "
                f"output); received num_classes={num_classes!r}"
            )
        self.num_classes = num_classes
        policy = self.dtype_policy
        self.text_embedding = None
        if self.text_vocab_size is not None:
            self.text_embedding = keras.layers.Embedding(
                self.text_vocab_size, hidden_dim, dtype=policy, name="text_embedding"
            )
        # cuDNN is off on purpose: it accepts only right-padded masks and no all-False
        # row (a missing modality), and it cannot run under XLA.
        self.encoders = {
            m: keras.layers.LSTM(hidden_dim, return_sequences=True, use_cudnn=False,
                                 dtype=policy, name=f"{m}_lstm")
            for m in MODALITIES
        }
        self.poolers = {
            m: MaskedPooling(pooling, dtype=policy, name=f"{m}_pooling") for m in MODALITIES
        }
        self.dropouts = {
            m: keras.layers.Dropout(dropout, dtype=policy, name=f"{m}_dropout") for m in MODALITIES
        }
        # One estimator per modality, so each final bias moves its own modality's
        # score (a bias shared by all scores would cancel in the softmax).
        self.quality_hidden_layers = {
            m: keras.layers.Dense(quality_hidden, activation="gelu", dtype=policy,
                                  name=f"{m}_quality_hidden")
            for m in MODALITIES
        }
        self.quality_scores = {
            m: keras.layers.Dense(1, dtype="float32", name=f"{m}_quality_score") for m in MODALITIES
        }
        self.quality_softmax = keras.layers.Softmax(axis=-1, dtype="float32",
                                                    name="quality_softmax")
        self.head = SentimentHead(hidden_dim, dropout, num_classes, dtype=policy, name="head")

    def build(self, inputs_shape):
        check_input_shapes(self, inputs_shape)
        for m in MODALITIES:
            shape = tuple(inputs_shape[m])
            if m == "text" and self.text_embedding is not None:
                self.text_embedding.build(shape)
                shape = (*shape, self.hidden_dim)
            self.encoders[m].build(shape)
            encoded = (*shape[:2], self.hidden_dim)
            self.poolers[m].build(encoded)
            self.quality_hidden_layers[m].build((shape[0], self.hidden_dim))
            self.quality_scores[m].build((shape[0], self.quality_hidden))
        self.head.build((inputs_shape["text"][0], self.hidden_dim))

    def _fuse(self, inputs, training):
        """`(fused (batch, hidden_dim), weights (batch, 3) float32)`."""
        parsed = modality_inputs(inputs)
        vectors, scores, present = [], [], []
        for m, (sequence, mask) in parsed.items():
            if m == "text" and self.text_embedding is not None:
                sequence = self.text_embedding(sequence)
            encoded = self.encoders[m](sequence, mask=mask, training=training)
            pooled = self.dropouts[m](self.poolers[m](encoded, mask=mask), training=training)
            vectors.append(ops.cast(pooled, "float32"))
            scores.append(self.quality_scores[m](self.quality_hidden_layers[m](pooled)))
            present.append(ops.any(mask, axis=1))
        weights = self.quality_softmax(
            ops.concatenate(scores, axis=-1), mask=ops.stack(present, axis=1)
        )
        fused = ops.sum(weights[..., None] * ops.stack(vectors, axis=1), axis=1)
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
