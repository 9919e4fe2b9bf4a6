"""Cross-modal fusion layers: sequence-level cross-attention, modality weighting, an adaptive head."""

import keras
import numpy as np
from keras import ops

from msa_tf.layers.cross_attention_block import CrossAttentionBlock
from msa_tf.layers.initializers import dense_initializers, get_initializer, initializers_config
from msa_tf.layers.masked_pooling import MaskedPooling
from msa_tf.layers.masking import check_mask
from msa_tf.layers.modality_inputs import check_shape_list
from msa_tf.layers.residual_attention_block import (
    BLOCK_ARGUMENTS,
    block_config,
    checked_block_arguments,
)
from msa_tf.modalities import MODALITIES
from msa_tf.validation import check_choice, check_positive_int, optional


def _mask_per_input(mask, inputs):
    """`mask` as a list with one entry (a mask or `None`) per input; `ValueError` otherwise."""
    if mask is None:
        return [None] * len(inputs)
    if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
        raise ValueError(
            f"`mask` must be a list with one entry per input ({len(inputs)}); "
            f"received {type(mask).__name__} of length "
            f"{len(mask) if isinstance(mask, (list, tuple)) else 'n/a'}"
        )
    return list(mask)


@keras.saving.register_keras_serializable(package="msa_tf")
class CrossModalFusion(keras.layers.Layer):
    """Text-anchored cross-modal attention over `num_layers`.

    In each layer the text sequence attends to audio, then to vision (two
    `CrossAttentionBlock`s). With `bidirectional=True` audio and vision also attend
    to the text the layer started from. Every attention honours the padding masks,
    and a modality that is missing altogether (an all-`False` mask) contributes
    nothing.

    Args:
        width: feature size of the text (and, if bidirectional, of audio and vision).
        num_heads: number of attention heads; must divide `width`.
        num_layers: number of fusion layers.
        bidirectional: if `True`, adds audio<-text and vision<-text attention.
        ff_dim: hidden size of the feed-forward networks; `None` means `4 * width`.
        dropout: dropout rate, in [0, 1).
        norm_first: `True` for pre-norm blocks, `False` for post-norm.
        activation: activation of the feed-forward hidden layers.
        layer_norm_epsilon: epsilon of the layer normalisations.
        kernel_initializer, bias_initializer: of every block.
        residual_dropout: dropout rate on the blocks' sub-layer outputs; `None`:
            `dropout`.

    Call arguments:
        text: `(batch, text_time, width)`.
        audio: `(batch, audio_time, audio_dim)`.
        vision: `(batch, vision_time, vision_dim)`.
        text_mask, audio_mask, vision_mask: optional boolean `(batch, time)` masks,
            `True` = real step.
        training: Python boolean, enables dropout.

    Returns the fused `(text, audio, vision)` sequences, each with its input's
    shape; without `bidirectional`, audio and vision are returned unchanged.

    Example:
    >>> fusion = CrossModalFusion(width=16, num_heads=2, num_layers=2)
    >>> t, a, v = np.ones((2, 5, 16)), np.ones((2, 7, 16)), np.ones((2, 3, 16))
    >>> [tuple(x.shape) for x in fusion(t, a, v)]
    [(2, 5, 16), (2, 7, 16), (2, 3, 16)]
    """

    def __init__(
        self,
        width,
        num_heads,
        num_layers=1,
        bidirectional=False,
        ff_dim=None,
        dropout=0.0,
        norm_first=True,
        activation="gelu",
        layer_norm_epsilon=1e-5,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        residual_dropout=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.bidirectional = bool(bidirectional)
        arguments = checked_block_arguments(
            width, num_heads, ff_dim, dropout, norm_first, activation, layer_norm_epsilon,
            kernel_initializer, bias_initializer, residual_dropout,
        )
        for name, value in arguments.items():
            setattr(self, name, value)
        self.supports_masking = True

    def build(self, text_shape, audio_shape, vision_shape):
        shapes = dict(zip(MODALITIES, (text_shape, audio_shape, vision_shape)))
        anchored = MODALITIES if self.bidirectional else ("text",)
        for name in anchored:
            if shapes[name][-1] != self.width:
                raise ValueError(
                    f"The last dimension of `{name}` must equal `width`={self.width}"
                    f"{' with bidirectional=True' if name != 'text' else ''}; "
                    f"received {name} with shape {tuple(shapes[name])}"
                )
        block_arguments = {key: getattr(self, key) for key in BLOCK_ARGUMENTS}
        self.directions = []
        for layer_index in range(self.num_layers):
            pairs = [("text", "audio"), ("text", "vision")]
            if self.bidirectional:
                pairs += [("audio", "text"), ("vision", "text")]
            blocks = {}
            for target, source in pairs:
                block = CrossAttentionBlock(
                    **block_arguments,
                    dtype=self.dtype_policy,
                    name=f"{target}_from_{source}_{layer_index}",
                )
                block.build(shapes[target], shapes[source])
                blocks[f"{target}_from_{source}"] = block
            self.directions.append(blocks)

    def call(
        self,
        text,
        audio,
        vision,
        text_mask=None,
        audio_mask=None,
        vision_mask=None,
        training=None,
    ):
        sequences = {"text": text, "audio": audio, "vision": vision}
        masks = {
            name: check_mask(mask, sequences[name], f"{name}_mask")
            for name, mask in zip(MODALITIES, (text_mask, audio_mask, vision_mask))
        }

        def attend(blocks, target, source, query, context):
            return blocks[f"{target}_from_{source}"](
                query,
                context,
                query_mask=masks[target],
                context_mask=masks[source],
                training=training,
            )

        for blocks in self.directions:
            start_text = sequences["text"]
            updated_text = attend(blocks, "text", "audio", start_text, sequences["audio"])
            updated_text = attend(blocks, "text", "vision", updated_text, sequences["vision"])
            if self.bidirectional:
                for name in ("audio", "vision"):
                    sequences[name] = attend(blocks, name, "text", sequences[name], start_text)
            sequences["text"] = updated_text
        return sequences["text"], sequences["audio"], sequences["vision"]

    def compute_mask(self, text, previous_mask=None):
        # Keras passes only the first input's mask here; audio and vision keep
        # theirs by passing them explicitly.
        return [previous_mask, None, None]

    def compute_output_shape(self, text_shape, audio_shape, vision_shape):
        return tuple(text_shape), tuple(audio_shape), tuple(vision_shape)

    def get_config(self):
        config = super().get_config()
        config.update(block_config(self))
        config.update(num_layers=self.num_layers, bidirectional=self.bidirectional)
        return config


@keras.saving.register_keras_serializable(package="msa_tf")
class ModalityWeighting(keras.layers.Layer):
    """Fuses one vector per modality with softmax weights over the modalities present.

    Each of the `M` modalities gets a score: with `hidden_dim=None`, a learned logit
    per modality, the same for every sample (starting at 0: equal weights); with
    `hidden_dim` set, a score of each sample's vector by the modality's own MLP
    `Dense(hidden_dim, gelu) -> Dense(1)` (one per modality, so each final bias moves
    its own modality's score: a bias shared by all scores would cancel in the
    softmax). A softmax over the modalities present in each sample turns the scores
    into weights: a missing modality gets weight 0 and the others share the rest.
    The fused vector is the weighted sum of the vectors. The final score layers, the
    softmax and the sum run in float32.

    Args:
        hidden_dim: `None` for learned per-modality logits, else the hidden width of
            the scoring MLPs.
        kernel_initializer, bias_initializer: of the scoring MLPs.

    Call arguments:
        inputs: a list of `M >= 1` vectors `(batch, dim)`, all with the same `dim`.
        mask: optional list of `M` boolean `(batch,)` tensors (entries may be
            `None`: present), `True` where the modality is present in the sample,
            e.g. `ops.any(sequence_mask, axis=1)`.

    Returns `(fused, weights)`: float32 `(batch, dim)` and `(batch, M)`. The weights
    of a sample sum to 1 over its present modalities; a sample with none gets zeros.

    Example:
    >>> weighting = ModalityWeighting()
    >>> vectors = [np.ones((2, 4)), np.zeros((2, 4))]
    >>> present = [np.array([True, True]), np.array([True, False])]
    >>> fused, weights = weighting(vectors, mask=present)
    >>> ops.convert_to_numpy(weights).tolist(), ops.convert_to_numpy(fused[:, 0]).tolist()
    ([[0.5, 0.5], [1.0, 0.0]], [0.5, 1.0])
    """

    def __init__(self, hidden_dim=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = optional(check_positive_int)("hidden_dim", hidden_dim)
        self.kernel_initializer = get_initializer("kernel_initializer", kernel_initializer)
        self.bias_initializer = get_initializer("bias_initializer", bias_initializer)
        self.supports_masking = True

    def build(self, inputs_shape):
        check_shape_list("ModalityWeighting", inputs_shape, 2, "(batch, dim) vectors")
        if len({shape[-1] for shape in inputs_shape}) != 1:
            raise ValueError(
                "All `inputs` must have the same last dimension; "
                f"received shapes {[tuple(s) for s in inputs_shape]}"
            )
        count = len(inputs_shape)
        if self.hidden_dim is None:
            self.modality_logits = self.add_weight(
                name="modality_logits", shape=(count,), initializer="zeros"
            )
        else:
            self.hidden_layers = [
                keras.layers.Dense(self.hidden_dim, activation="gelu", **dense_initializers(self),
                                   dtype=self.dtype_policy, name=f"hidden_{index}")
                for index in range(count)
            ]
            self.score_layers = [
                keras.layers.Dense(1, **dense_initializers(self), dtype="float32",
                                   name=f"score_{index}")
                for index in range(count)
            ]
            for shape, hidden, score in zip(inputs_shape, self.hidden_layers, self.score_layers):
                hidden.build(shape)
                score.build((shape[0], self.hidden_dim))
        self.softmax = keras.layers.Softmax(axis=-1, dtype="float32", name="softmax")

    def call(self, inputs, mask=None):
        mask = _mask_per_input(mask, inputs)
        batch = ops.shape(inputs[0])[0]
        present = ops.stack(
            [ops.ones((batch,), "bool") if m is None else ops.cast(m, "bool") for m in mask], axis=1
        )
        if self.hidden_dim is None:
            scores = ops.broadcast_to(
                ops.cast(self.modality_logits, "float32")[None, :], ops.shape(present)
            )
        else:
            scores = ops.concatenate(
                [
                    score(hidden(vector))
                    for vector, hidden, score in zip(inputs, self.hidden_layers, self.score_layers)
                ],
                axis=-1,
            )
        weights = self.softmax(scores, mask=present)
        vectors = ops.stack([ops.cast(vector, "float32") for vector in inputs], axis=1)
        return ops.sum(weights[..., None] * vectors, axis=1), weights

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def compute_output_shape(self, inputs_shape):
        return (inputs_shape[0][0], inputs_shape[0][-1]), (inputs_shape[0][0], len(inputs_shape))

    def compute_output_spec(self, inputs, mask=None):
        fused, weights = self.compute_output_shape([tuple(vector.shape) for vector in inputs])
        return keras.KerasTensor(fused, dtype="float32"), keras.KerasTensor(weights, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim, **initializers_config(self))
        return config


@keras.saving.register_keras_serializable(package="msa_tf")
class AdaptiveFusionHead(keras.layers.Layer):
    """Pools each modality with its mask and mixes them with learned softmax weights.

    Each modality is pooled over its real steps (`MaskedPooling`); a
    `ModalityWeighting` averages the pooled vectors with weights
    `softmax(modality_logits)`, which start equal and are learned. A modality with no
    real step in a sample (missing) is left out of that sample's average and the
    other weights are renormalised. After training, read the weights with
    `head.modality_weights`.

    Args:
        pooling: `"mean"` or `"attention"` pooling of each modality.
        modality_names: optional names, one per modality, used as the keys of
            `modality_weights`; default `modality_0`, `modality_1`, ...
        kernel_initializer: of the attention pooling scores.

    Call arguments:
        inputs: a list of `M >= 1` sequences `(batch, time_m, dim)`, all with the same
            `dim` (lengths may differ).
        mask: optional list of `M` boolean `(batch, time_m)` masks (entries may be
            `None`), `True` = real step; also taken from Keras implicit masking.

    Returns the fused vector `(batch, dim)`.

    Example:
    >>> head = AdaptiveFusionHead(modality_names=["text", "audio"])
    >>> fused = head([np.ones((2, 4, 8)), np.zeros((2, 6, 8))])
    >>> tuple(fused.shape), head.modality_weights
    ((2, 8), {'text': 0.5, 'audio': 0.5})
    """

    POOLING_METHODS = ("mean", "attention")

    def __init__(self, pooling="mean", modality_names=None, kernel_initializer="glorot_uniform",
                 **kwargs):
        super().__init__(**kwargs)
        self.pooling = check_choice("pooling", pooling, self.POOLING_METHODS)
        self.modality_names = None if modality_names is None else list(modality_names)
        self.kernel_initializer = get_initializer("kernel_initializer", kernel_initializer)
        self.supports_masking = True

    def build(self, inputs_shape):
        check_shape_list("AdaptiveFusionHead", inputs_shape, 3, "(batch, time, dim) sequences")
        count = len(inputs_shape)
        if self.modality_names is not None and len(self.modality_names) != count:
            raise ValueError(
                f"`modality_names` must name each of the {count} inputs; "
                f"received modality_names={self.modality_names}"
            )
        self.poolers = []
        for index, shape in enumerate(inputs_shape):
            pooler = MaskedPooling(self.pooling, self.kernel_initializer, dtype=self.dtype_policy,
                                   name=f"pool_{index}")
            pooler.build(shape)
            self.poolers.append(pooler)
        self.weighting = ModalityWeighting(dtype=self.dtype_policy, name="weighting")
        self.weighting.build([(shape[0], shape[-1]) for shape in inputs_shape])

    def call(self, inputs, mask=None):
        mask = _mask_per_input(mask, inputs)
        pooled, present = [], []
        for index, (sequence, sequence_mask) in enumerate(zip(inputs, mask)):
            sequence_mask = check_mask(sequence_mask, sequence, f"mask[{index}]")
            pooled.append(self.poolers[index](sequence, mask=sequence_mask))
            present.append(None if sequence_mask is None else ops.any(sequence_mask, axis=1))
        fused, _ = self.weighting(pooled, mask=present)
        return ops.cast(fused, self.compute_dtype)

    @property
    def modality_logits(self):
        """The learned logits `(M,)` of the modality weights."""
        return self.weighting.modality_logits

    @property
    def modality_weights(self):
        """The learned weights `softmax(modality_logits)` as a `{name: weight}` dict."""
        logits = np.asarray(ops.convert_to_numpy(self.modality_logits), dtype="float64")
        weights = np.exp(logits - logits.max())
        weights /= weights.sum()
        names = self.modality_names or [f"modality_{i}" for i in range(len(weights))]
        return {name: float(w) for name, w in zip(names, weights)}

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def compute_output_shape(self, inputs_shape):
        return (inputs_shape[0][0], inputs_shape[0][-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            pooling=self.pooling,
            modality_names=self.modality_names,
            **initializers_config(self, ["kernel_initializer"]),
        )
        return config
