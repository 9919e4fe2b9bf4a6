"""Cross-modal fusion layers: sequence-level cross-attention and an adaptive head."""

import keras
import numpy as np
from keras import ops

from msa_tf.layers.cross_attention_block import CrossAttentionBlock
from msa_tf.layers.masked_pooling import MaskedPooling
from msa_tf.layers.masking import check_mask
from msa_tf.layers.residual_attention_block import BLOCK_ARGUMENTS
from msa_tf.validation import check_choice, check_positive_int

MODALITIES = ("text", "audio", "vision")


@keras.saving.register_keras_serializable(package="msa_tf")
class CrossModalFusion(keras.layers.Layer):
    """Text-anchored cross-modal attention over `n_layers`.

    In each layer the text sequence attends to audio, then to vision (two
    `CrossAttentionBlock`s). With `bidirectional=True` audio and vision also attend
    to the text the layer started from. Every attention honours the padding masks,
    and a modality that is missing altogether (an all-`False` mask) contributes
    nothing.

    Args:
        width: feature size of the text (and, if bidirectional, of audio and vision).
        num_heads: number of attention heads; must divide `width`.
        n_layers: number of fusion layers.
        bidirectional: if `True`, adds audio<-text and vision<-text attention.
        ff_dim: hidden size of the feed-forward networks; `None` means `4 * width`.
        dropout: dropout rate, in [0, 1).
        norm_first: `True` for pre-norm blocks, `False` for post-norm.
        activation: activation of the feed-forward hidden layers.
        layer_norm_epsilon: epsilon of the layer normalisations.

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
    >>> fusion = CrossModalFusion(width=16, num_heads=2, n_layers=2)
    >>> t, a, v = np.ones((2, 5, 16)), np.ones((2, 7, 16)), np.ones((2, 3, 16))
    >>> [tuple(x.shape) for x in fusion(t, a, v)]
    [(2, 5, 16), (2, 7, 16), (2, 3, 16)]
    """

    def __init__(
        self,
        width,
        num_heads,
        n_layers=1,
        bidirectional=False,
        ff_dim=None,
        dropout=0.0,
        norm_first=True,
        activation="gelu",
        layer_norm_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.width = width
        self.num_heads = num_heads
        self.n_layers = check_positive_int("n_layers", n_layers)
        self.bidirectional = bool(bidirectional)
        self.ff_dim = ff_dim
        self.dropout = dropout
        self.norm_first = norm_first
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        # Builds one block now so that bad block arguments fail at construction.
        self._block("check")
        self.supports_masking = True

    def _block(self, name):
        block_arguments = {key: getattr(self, key) for key in BLOCK_ARGUMENTS}
        return CrossAttentionBlock(**block_arguments, dtype=self.dtype_policy, name=name)

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
        self.directions = []
        for layer_index in range(self.n_layers):
            pairs = [("text", "audio"), ("text", "vision")]
            if self.bidirectional:
                pairs += [("audio", "text"), ("vision", "text")]
            blocks = {}
            for target, source in pairs:
                block = self._block(f"{target}_from_{source}_{layer_index}")
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

        def attend(target, source, query, context):
            return self.directions[layer_index][f"{target}_from_{source}"](
                query,
                context,
                query_mask=masks[target],
                context_mask=masks[source],
                training=training,
            )

        for layer_index in range(self.n_layers):
            start_text = sequences["text"]
            updated_text = attend("text", "audio", start_text, sequences["audio"])
            updated_text = attend("text", "vision", updated_text, sequences["vision"])
            if self.bidirectional:
                for name in ("audio", "vision"):
                    sequences[name] = attend(name, "text", sequences[name], start_text)
            sequences["text"] = updated_text
        return sequences["text"], sequences["audio"], sequences["vision"]

    def compute_mask(self, text, previous_mask=None):
        # Keras passes only the first input's mask here; audio and vision keep
        # theirs by passing them explicitly.
        return [previous_mask, None, None]

    def get_config(self):
        config = super().get_config()
        config.update({key: getattr(self, key) for key in BLOCK_ARGUMENTS})
        config.update(n_layers=self.n_layers, bidirectional=self.bidirectional)
        return config


@keras.saving.register_keras_serializable(package="msa_tf")
class AdaptiveFusionHead(keras.layers.Layer):
    """Pools each modality with its mask and mixes them with learned softmax weights.

    Each modality is pooled over its real steps (`MaskedPooling`); the pooled vectors
    are averaged with weights `softmax(modality_logits)`, which start equal and are
    learned. A modality with no real step in a sample (missing) is left out of that
    sample's average and the other weights are renormalised. After training, read the
    weights with `head.modality_weights`.

    Args:
        pooling: `"mean"` or `"attention"` pooling of each modality.
        modality_names: optional names, one per modality, used as the keys of
            `modality_weights`; default `modality_0`, `modality_1`, ...

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

    def __init__(self, pooling="mean", modality_names=None, **kwargs):
        super().__init__(**kwargs)
        self.pooling = check_choice("pooling", pooling, self.POOLING_METHODS)
        self.modality_names = None if modality_names is None else list(modality_names)
        self.supports_masking = True

    def build(self, inputs_shape):
        if not isinstance(inputs_shape, (list, tuple)) or not inputs_shape or not all(
            isinstance(shape, (list, tuple)) and len(shape) == 3 for shape in inputs_shape
        ):
            raise ValueError(
                "`inputs` of AdaptiveFusionHead must be a list of (batch, time, dim) "
                f"sequences; received shapes {inputs_shape}"
            )
        dims = {shape[-1] for shape in inputs_shape}
        if len(dims) != 1:
            raise ValueError(
                "All `inputs` of AdaptiveFusionHead must have the same last dimension; "
                f"received shapes {[tuple(s) for s in inputs_shape]}"
            )
        count = len(inputs_shape)
        if self.modality_names is not None and len(self.modality_names) != count:
            raise ValueError(
                f"`modality_names` must name each of the {count} inputs; "
                f"received modality_names={self.modality_names}"
            )
        self.poolers = []
        for index, shape in enumerate(inputs_shape):
            pooler = MaskedPooling(self.pooling, dtype=self.dtype_policy, name=f"pool_{index}")
            pooler.build(shape)
            self.poolers.append(pooler)
        self.modality_logits = self.add_weight(
            name="modality_logits", shape=(count,), initializer="zeros"
        )
        self.softmax = keras.layers.Softmax(axis=-1, dtype="float32", name="softmax")

    def call(self, inputs, mask=None):
        if mask is None:
            mask = [None] * len(inputs)
        if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
            raise ValueError(
                f"`mask` must be a list with one entry per input ({len(inputs)}); "
                f"received {type(mask).__name__} of length "
                f"{len(mask) if isinstance(mask, (list, tuple)) else 'n/a'}"
            )
        pooled, present = [], []
        for index, (sequence, sequence_mask) in enumerate(zip(inputs, mask)):
            sequence_mask = check_mask(sequence_mask, sequence, f"mask[{index}]")
            pooled.append(ops.cast(self.poolers[index](sequence, mask=sequence_mask), "float32"))
            if sequence_mask is None:
                present.append(ops.ones((ops.shape(sequence)[0],), dtype="bool"))
            else:
                present.append(ops.any(sequence_mask, axis=1))
        present = ops.stack(present, axis=1)
        logits = ops.broadcast_to(
            ops.cast(self.modality_logits, "float32")[None, :], ops.shape(present)
        )
        weights = self.softmax(logits, mask=present)
        fused = ops.sum(weights[..., None] * ops.stack(pooled, axis=1), axis=1)
        return ops.cast(fused, self.compute_dtype)

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
        config.update(pooling=self.pooling, modality_names=self.modality_names)
        return config
