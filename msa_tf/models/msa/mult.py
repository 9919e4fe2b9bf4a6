"""MulT: directional cross-modal transformers over unaligned sequences."""

import math

import keras
from keras import ops

from msa_tf.layers import (
    CrossAttentionBlock,
    Dropout,
    MaskedPooling,
    SinusoidalPositionalEmbedding,
    TransformerBlock,
)
from msa_tf.modalities import MODALITIES
from msa_tf.models.msa.components import (
    ModalityProjection,
    SentimentModel,
    check_input_shapes,
    modality_inputs,
)
from msa_tf.models.registry import register
from msa_tf.validation import (
    check_choice,
    check_divisible,
    check_positive_int,
    check_rate,
    per_key,
)

CONV_PADDINGS = ("same", "valid", "causal")
# Each target modality is attended from the two others, in MulT's order.
DIRECTIONS = tuple(
    (target, source) for target in MODALITIES for source in MODALITIES if source != target
)


def _valid_mask(mask, kernel_size):
    """The mask after a `"valid"` convolution: a window is real when all its steps are."""
    length = mask.shape[1] if mask.shape[1] is not None else ops.shape(mask)[1]
    steps = length - kernel_size + 1
    windows = [mask[:, i : i + steps] for i in range(kernel_size)]
    return ops.all(ops.stack(windows, axis=0), axis=0)


@register("mult")
@keras.saving.register_keras_serializable(package="msa_tf")
class MulT(SentimentModel):
    """The Multimodal Transformer: six directional cross-modal transformers.

    Each modality goes through a temporal `Conv1D` (no bias, run in float32) to
    `model_dim` features (token-id text through an `Embedding` instead); padded steps
    are set to zero before it, so a real step never reads a padded value. Every
    transformer input is scaled by `sqrt(width)` and gets sinusoidal positions,
    counted over the real steps only, so left and right padding give the same
    prediction. Each target modality is attended from each of the two others by
    `num_cross_layers` pre-norm `CrossAttentionBlock`s (both sequences normalised); the
    two results are concatenated (`2 * model_dim`) and go through `num_layers`
    pre-norm `TransformerBlock`s. Every block has MulT's ReLU feed-forward network
    (4 times its width) and every stack ends with a layer normalisation. The last
    real step of each target (`MaskedPooling("last")`, wherever the padding is) is
    taken, the three are concatenated (`6 * model_dim`) into MulT's residual MLP
    (`proj1` -> ReLU -> dropout -> `proj2`, plus its input), and float32 output
    layers give the results. Padded steps never change a prediction.

    Args:
        seq_len: the longest sequence, one int or a dict per modality; with
            `conv_padding="valid"` every kernel must fit in it. `None`: any length.
        text_dim, audio_dim, vision_dim: input feature sizes, `None`: any;
            `text_dim` is unused with `text_vocab_size`. The layers build from the
            shapes they receive; inputs that contradict a given data argument raise
            `ValueError` when the model is built.
        model_dim: the common width of the cross-modal transformers (the
            self-attention transformers are `2 * model_dim` wide).
        num_heads: attention heads of every block; must divide `model_dim`.
        num_cross_layers: `CrossAttentionBlock`s per direction (six directions).
        num_layers: `TransformerBlock`s per target modality (three targets).
        conv_kernel_sizes: kernel size of the temporal convolutions, one int or a
            dict per modality (MulT uses 1); unused for token-id text.
        conv_padding: `"same"` (one output per step), `"valid"` (only windows made
            of real steps are real: a sequence loses `kernel - 1` steps, and one
            shorter than the kernel contributes nothing) or `"causal"` (a step sees
            itself and the `kernel - 1` steps before it).
        attention_dropout: dropout on the attention weights of every block (MulT's
            `attn_dropout`), in [0, 1); or a dict `{"text": ..., "audio": ...,
            "vision": ...}` giving the cross-modal stacks that read each modality
            their own rate (MulT's `attn_dropout`, `attn_dropout_a`,
            `attn_dropout_v`), the self-attention stacks taking the text rate, as in
            MulT.
        residual_dropout: dropout on each sub-layer output before its residual sum
            (MulT's `res_dropout`), in [0, 1); `None`: each block's attention rate.
        embedding_dropout: dropout on every transformer input after positions are
            added (MulT's `embed_dropout`), in [0, 1).
        text_dropout: dropout on the text features before their convolution (MMSA's
            `text_dropout`), in [0, 1); `None`: `embedding_dropout`.
        output_dropout: dropout inside the residual MLP (MulT's `out_dropout`), in
            [0, 1).
        causal: if `True`, the self-attention transformers are causal: a step attends
            to itself and earlier real steps only, so each step summarises the
            sequence up to that point (the prediction reads the last real step,
            which still sees the whole sequence). The cross-modal transformers
            always see the whole source sequence.
        text_vocab_size: `None` for text features, else the vocabulary of token ids
            (id 0 at padded steps is not required: padded ids are ignored).
        num_classes: `None`, or the classes of an extra `classification` output.

    Call arguments:
        inputs: dict with `text`, `audio`, `vision` (`(batch, time, dim)`, or
            `(batch, time)` token ids for text) and optional boolean `*_mask`s
            `(batch, time)`, `True` = real step. Lengths may differ per modality.

    Returns `{"regression": (batch, 1)}` (float32), plus `"classification"` float32
    logits `(batch, num_classes)` when `num_classes` is set.

    Example:
    >>> model = MulT(model_dim=8, num_heads=2, num_cross_layers=1, num_layers=1,
    ...              num_classes=3)
    >>> inputs = {"text": np.ones((2, 6, 5)), "audio": np.ones((2, 9, 4)),
    ...           "vision": np.ones((2, 4, 3)),
    ...           "audio_mask": create_padding_mask(lengths=[9, 5], max_length=9)}
    >>> {k: tuple(v.shape) for k, v in model(inputs).items()}
    {'regression': (2, 1), 'classification': (2, 3)}

    Reference:
        Tsai et al., "Multimodal Transformer for Unaligned Multimodal Language
        Sequences", ACL 2019.
    """

    def __init__(
        self,
        seq_len=None,
        text_dim=None,
        audio_dim=None,
        vision_dim=None,
        model_dim=30,
        num_heads=5,
        num_cross_layers=4,
        num_layers=3,
        conv_kernel_sizes=1,
        conv_padding="same",
        attention_dropout=0.1,
        embedding_dropout=0.25,
        output_dropout=0.0,
        causal=False,
        residual_dropout=None,
        text_dropout=None,
        text_vocab_size=None,
        num_classes=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._set_arguments(
            seq_len=seq_len, text_dim=text_dim, audio_dim=audio_dim, vision_dim=vision_dim,
            model_dim=model_dim, num_heads=num_heads, num_cross_layers=num_cross_layers,
            num_layers=num_layers, conv_kernel_sizes=conv_kernel_sizes,
            conv_padding=check_choice("conv_padding", conv_padding, CONV_PADDINGS),
            attention_dropout=attention_dropout, embedding_dropout=embedding_dropout,
            output_dropout=output_dropout, causal=causal, text_vocab_size=text_vocab_size,
            num_classes=num_classes, residual_dropout=residual_dropout, text_dropout=text_dropout,
        )
        check_divisible("model_dim", model_dim, "num_heads", num_heads)
        self._kernels = per_key("conv_kernel_sizes", conv_kernel_sizes, MODALITIES, check_positive_int)
        if seq_len is not None:
            lengths = per_key("seq_len", seq_len, MODALITIES, check_positive_int)
            for m in self._convolved():
                self._check_kernel(m, lengths[m], f"seq_len[{m!r}]={lengths[m]}")

        policy = self.dtype_policy
        self.projections = {}
        for m in MODALITIES:
            if m == "text" and text_vocab_size is not None:
                self.projections[m] = ModalityProjection(
                    model_dim, text_vocab_size, dtype=policy, name="text_embedding"
                )
            else:
                # In float32: raw features come at any scale, and a kernel's
                # gradient, summed over every step of the batch, overflows float16
                # under loss scaling. The output is cast to the compute dtype.
                self.projections[m] = keras.layers.Conv1D(
                    model_dim, self._kernels[m], padding=conv_padding, use_bias=False,
                    dtype="float32", name=f"{m}_conv",
                )
        attention_rates = per_key("attention_dropout", attention_dropout, MODALITIES, check_rate)
        self.text_features_dropout = Dropout(
            embedding_dropout if text_dropout is None else text_dropout, dtype=policy,
            name="text_dropout",
        )
        self.positions = SinusoidalPositionalEmbedding(dtype=policy, name="positions")
        self.embedded_dropout = Dropout(embedding_dropout, dtype=policy, name="embedding_dropout")

        def norm(name):
            return keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy, name=name)

        self.cross_blocks, self.cross_norms = {}, {}
        for target, source in DIRECTIONS:
            direction = f"{target}_from_{source}"
            self.cross_blocks[direction] = [
                CrossAttentionBlock(
                    model_dim, num_heads, dropout=attention_rates[source], activation="relu",
                    residual_dropout=residual_dropout, dtype=policy, name=f"{direction}_block_{i}",
                )
                for i in range(num_cross_layers)
            ]
            self.cross_norms[direction] = norm(f"{direction}_norm")
        self.self_blocks, self.self_norms = {}, {}
        for m in MODALITIES:
            self.self_blocks[m] = [
                TransformerBlock(
                    2 * model_dim, num_heads, dropout=attention_rates["text"], activation="relu",
                    residual_dropout=residual_dropout, causal=causal, dtype=policy,
                    name=f"{m}_self_block_{i}",
                )
                for i in range(num_layers)
            ]
            self.self_norms[m] = norm(f"{m}_self_norm")
        self.pool = MaskedPooling("last", dtype=policy, name="last_step")
        self.proj1 = keras.layers.Dense(6 * model_dim, activation="relu", dtype=policy, name="proj1")
        self.mlp_dropout = Dropout(output_dropout, dtype=policy, name="mlp_dropout")
        self.proj2 = keras.layers.Dense(6 * model_dim, dtype=policy, name="proj2")
        self.regression = keras.layers.Dense(1, dtype="float32", name="regression")
        self.classification = (
            None if num_classes is None
            else keras.layers.Dense(num_classes, dtype="float32", name="classification")
        )

    def _convolved(self):
        """The modalities that go through a temporal convolution."""
        return [m for m in MODALITIES if not (m == "text" and self.text_vocab_size is not None)]

    def _check_kernel(self, modality, length, limit):
        """Raises `ValueError` if a `"valid"` convolution of `modality` is longer than `length`."""
        kernel = self._kernels[modality]
        if self.conv_padding == "valid" and length is not None and kernel > length:
            raise ValueError(
                f"With conv_padding='valid', `conv_kernel_sizes[{modality!r}]` must be at most "
                f"{limit}; received conv_kernel_sizes[{modality!r}]={kernel}"
            )

    def build(self, inputs_shape):
        check_input_shapes(self, inputs_shape)
        shapes = {}
        for m in MODALITIES:
            shape = tuple(inputs_shape[m])
            length = shape[1]
            if self.conv_padding == "valid" and m in self._convolved() and length is not None:
                self._check_kernel(m, length, f"the {m} length {length}")
                length = length - self._kernels[m] + 1
            self.projections[m].build(shape)
            shapes[m] = (shape[0], length, self.model_dim)
        for target, source in DIRECTIONS:
            direction = f"{target}_from_{source}"
            for block in self.cross_blocks[direction]:
                block.build(shapes[target], shapes[source])
            self.cross_norms[direction].build(shapes[target])
        for m in MODALITIES:
            wide = (*shapes[m][:2], 2 * self.model_dim)
            for block in self.self_blocks[m]:
                block.build(wide)
            self.self_norms[m].build(wide)
            self.pool.build(wide)
        fused = (inputs_shape["text"][0], 6 * self.model_dim)
        self.proj1.build(fused)
        self.proj2.build(fused)
        self.regression.build(fused)
        if self.classification is not None:
            self.classification.build(fused)

    def _project(self, modality, x, mask, training):
        """Zeroes padded steps, then convolves (or embeds ids); returns the new mask too."""
        if modality not in self._convolved():
            ids = ops.where(mask, x, ops.zeros_like(x))
            return self.projections[modality](ids), mask
        x = ops.where(mask[..., None], x, ops.zeros_like(x))
        if modality == "text":
            x = self.text_features_dropout(x, training=training)
        x = ops.cast(self.projections[modality](x), self.compute_dtype)
        kernel = self._kernels[modality]
        if self.conv_padding == "valid" and kernel > 1:
            mask = _valid_mask(mask, kernel)
        return x, mask

    def _embed(self, x, mask, training):
        """`x * sqrt(width)` plus sinusoidal positions counted over the real steps."""
        width = x.shape[-1]
        table = self.positions(x)[0]
        positions = ops.maximum(ops.cumsum(ops.cast(mask, "int32"), axis=1) - 1, 0)
        x = x * ops.cast(math.sqrt(width), x.dtype) + ops.take(table, positions, axis=0)
        return self.embedded_dropout(x, training=training)

    def call(self, inputs, training=None):
        embedded, masks = {}, {}
        for m, (x, mask) in modality_inputs(inputs).items():
            x, masks[m] = self._project(m, x, mask, training)
            embedded[m] = self._embed(x, masks[m], training)
        last_steps = []
        for target in MODALITIES:
            crossed = []
            for source in MODALITIES:
                if source == target:
                    continue
                direction = f"{target}_from_{source}"
                h = embedded[target]
                for block in self.cross_blocks[direction]:
                    h = block(h, embedded[source], query_mask=masks[target],
                              context_mask=masks[source], training=training)
                crossed.append(self.cross_norms[direction](h))
            h = self._embed(ops.concatenate(crossed, axis=-1), masks[target], training)
            for block in self.self_blocks[target]:
                h = block(h, mask=masks[target], training=training)
            last_steps.append(self.pool(self.self_norms[target](h), mask=masks[target]))
        fused = ops.concatenate(last_steps, axis=-1)
        hidden = self.proj2(self.mlp_dropout(self.proj1(fused), training=training)) + fused
        outputs = {"regression": self.regression(hidden)}
        if self.classification is not None:
            outputs["classification"] = self.classification(hidden)
        return outputs
