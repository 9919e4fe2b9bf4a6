"""Pieces every multimodal sentiment model shares: input parsing, projection, heads."""

import inspect

import keras
from keras import ops

from msa_tf.layers import LearnablePositionalEmbedding, TransformerBlock
from msa_tf.layers.masking import check_mask
from msa_tf.validation import check_positive_int, check_rate

MODALITIES = ("text", "audio", "vision")


def check_modalities(inputs, modalities=MODALITIES):
    """Raises `ValueError` unless `inputs` (tensors or shapes) is a dict with `modalities`."""
    if not isinstance(inputs, dict):
        raise ValueError(
            "MSA models take a dict with keys 'text', 'audio', 'vision' and their masks; "
            f"received {type(inputs).__name__}"
        )
    for modality in modalities:
        if modality not in inputs:
            raise ValueError(f"The input dict has no {modality!r}; received keys {sorted(inputs)}")


def modality_inputs(inputs, modalities=MODALITIES):
    """`{modality: (sequence, mask)}` from the MSA input dict.

    The dict holds `text`, `audio`, `vision` and optionally `text_mask`, `audio_mask`,
    `vision_mask` (boolean, `True` = real step); a missing mask means every step is
    real. Raises `ValueError` naming a missing modality.
    """
    check_modalities(inputs, modalities)
    parsed = {}
    for modality in modalities:
        sequence = inputs[modality]
        mask = check_mask(inputs.get(f"{modality}_mask"), sequence, f"{modality}_mask")
        if mask is None:
            mask = ops.ones(ops.shape(sequence)[:2], dtype="bool")
        parsed[modality] = (sequence, mask)
    return parsed


@keras.saving.register_keras_serializable(package="msa_tf")
class ModalityProjection(keras.layers.Layer):
    """Maps one modality to `width` features: `Dense` for features, `Embedding` for ids.

    Args:
        width: output feature size.
        vocab_size: `None` for feature inputs `(batch, time, dim)`; the vocabulary size
            for token-id inputs `(batch, time)`.

    Example:
    >>> ModalityProjection(8)(np.ones((2, 5, 3))).shape
    TensorShape([2, 5, 8])
    >>> ModalityProjection(8, vocab_size=100)(np.ones((2, 5), "int32")).shape
    TensorShape([2, 5, 8])
    """

    def __init__(self, width, vocab_size=None, **kwargs):
        super().__init__(**kwargs)
        self.width = check_positive_int("width", width)
        self.vocab_size = None if vocab_size is None else check_positive_int("vocab_size", vocab_size)
        self.supports_masking = True

    def build(self, inputs_shape):
        if self.vocab_size is None:
            self.projection = keras.layers.Dense(self.width, dtype=self.dtype_policy, name="dense")
        else:
            self.projection = keras.layers.Embedding(
                self.vocab_size, self.width, dtype=self.dtype_policy, name="embedding"
            )
        self.projection.build(inputs_shape)

    def call(self, inputs):
        return self.projection(inputs)

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask

    def get_config(self):
        config = super().get_config()
        config.update(width=self.width, vocab_size=self.vocab_size)
        return config


@keras.saving.register_keras_serializable(package="msa_tf")
class SequenceEncoder(keras.layers.Layer):
    """Projection, learnable positions and `n_layers` pre-norm transformer blocks.

    Args:
        width, num_heads, ff_dim, dropout: of the transformer blocks.
        n_layers: number of blocks (0 keeps projection and positions only).
        max_length: the longest sequence (size of the position table).
        vocab_size: for token-id inputs, else `None`.

    Call arguments:
        inputs: `(batch, time, dim)` features or `(batch, time)` token ids.
        mask: boolean `(batch, time)`, `True` = real step.

    Example:
    >>> SequenceEncoder(8, 2, 16, 1, max_length=6)(np.ones((2, 6, 3))).shape
    TensorShape([2, 6, 8])
    """

    def __init__(self, width, num_heads, ff_dim, n_layers, max_length, vocab_size=None,
                 dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.num_heads = num_heads
        self.ff_dim = ff_dim
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 0:
            raise ValueError(f"`n_layers` must be an integer >= 0; received n_layers={n_layers!r}")
        self.n_layers = n_layers
        self.max_length = max_length
        self.vocab_size = vocab_size
        self.dropout = dropout
        self.projection = ModalityProjection(width, vocab_size, dtype=self.dtype_policy)
        self.positions = LearnablePositionalEmbedding(max_length, dtype=self.dtype_policy)
        self.blocks = [
            TransformerBlock(width, num_heads, ff_dim=ff_dim, dropout=dropout,
                             dtype=self.dtype_policy, name=f"block_{i}")
            for i in range(n_layers)
        ]
        self.supports_masking = True

    def build(self, inputs_shape):
        self.projection.build(inputs_shape)
        shape = (*inputs_shape[:2], self.width)
        self.positions.build(shape)
        for block in self.blocks:
            block.build(shape)

    def call(self, inputs, mask=None, training=None):
        x = self.positions(self.projection(inputs))
        for block in self.blocks:
            x = block(x, mask=mask, training=training)
        return x

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask

    def get_config(self):
        config = super().get_config()
        config.update(
            width=self.width, num_heads=self.num_heads, ff_dim=self.ff_dim,
            n_layers=self.n_layers, max_length=self.max_length, vocab_size=self.vocab_size,
            dropout=self.dropout,
        )
        return config


def sequence_encoders(modalities, seq_len, width, num_heads, ff_dim, n_layers, dropout,
                      text_vocab_size, dtype):
    """`{modality: SequenceEncoder}`, token ids for text when `text_vocab_size` is set.

    `seq_len` is one int or a dict per modality (the longest sequence of each).
    """
    lengths = per_modality("seq_len", seq_len, check_positive_int)
    return {
        m: SequenceEncoder(
            width, num_heads, ff_dim, n_layers, lengths[m],
            vocab_size=text_vocab_size if m == "text" else None,
            dropout=dropout, dtype=dtype, name=f"{m}_encoder",
        )
        for m in modalities
    }


@keras.saving.register_keras_serializable(package="msa_tf")
class SentimentHead(keras.layers.Layer):
    """An MLP from a fused vector to the outputs `{"regression", "classification"}`.

    `regression` is float32 `(batch, 1)`; `classification` (float32 logits
    `(batch, num_classes)`) only when `num_classes` is set. The output layers run in
    float32 under mixed precision.

    Args:
        hidden_dim: width of the hidden layer.
        dropout: dropout before the outputs, in [0, 1).
        num_classes: `None`, or the number of classes of a classification output.

    Example:
    >>> out = SentimentHead(8, num_classes=3)(np.ones((2, 5)))
    >>> {k: tuple(v.shape) for k, v in out.items()}
    {'regression': (2, 1), 'classification': (2, 3)}
    """

    def __init__(self, hidden_dim, dropout=0.0, num_classes=None, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        self.dropout = check_rate("dropout", dropout)
        self.num_classes = None if num_classes is None else check_positive_int("num_classes", num_classes)

    def build(self, inputs_shape):
        self.hidden = keras.layers.Dense(
            self.hidden_dim, activation="gelu", dtype=self.dtype_policy, name="hidden"
        )
        self.hidden.build(inputs_shape)
        self.hidden_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        hidden_shape = (*inputs_shape[:-1], self.hidden_dim)
        self.regression = keras.layers.Dense(1, dtype="float32", name="regression")
        self.regression.build(hidden_shape)
        if self.num_classes:
            self.classification = keras.layers.Dense(
                self.num_classes, dtype="float32", name="classification"
            )
            self.classification.build(hidden_shape)

    def call(self, inputs, training=None):
        hidden = self.hidden_dropout(self.hidden(inputs), training=training)
        outputs = {"regression": self.regression(hidden)}
        if self.num_classes:
            outputs["classification"] = self.classification(hidden)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim, dropout=self.dropout, num_classes=self.num_classes)
        return config


class SentimentModel(keras.Model):
    """Base of the sentiment models: a flat config of plain constructor values.

    A subclass stores each `__init__` argument as an attribute of the same name;
    `get_config()` returns them all, so `from_config(config)` is `cls(**config)`.
    """

    def get_config(self):
        config = super().get_config()
        parameters = inspect.signature(type(self).__init__).parameters
        for name, parameter in parameters.items():
            if name != "self" and parameter.kind == parameter.POSITIONAL_OR_KEYWORD:
                value = getattr(self, name)
                config[name] = list(value) if isinstance(value, tuple) else value
        return config


def per_modality(name, value, check):
    """`value` (one value, or a dict naming every modality) as a checked dict."""
    if isinstance(value, dict):
        if set(value) != set(MODALITIES):
            raise ValueError(
                f"`{name}` must be one value or a dict with the keys {MODALITIES}; "
                f"received {name}={value!r}"
            )
        values = dict(value)
    else:
        values = {modality: value for modality in MODALITIES}
    return {modality: check(f"{name}[{modality!r}]", item) for modality, item in values.items()}


# The argument that names each modality's feature size (the vision input is `vision`).
DIM_ARGUMENTS = {"text": "text_dim", "audio": "audio_dim", "vision": "video_dim"}


def optional(check):
    """`check` that lets `None` through (meaning "any")."""
    return lambda name, value: None if value is None else check(name, value)


def check_data_arguments(seq_len, text_dim, audio_dim, video_dim):
    """Checks the optional data arguments; `None` means "any". Raises `ValueError`."""
    if seq_len is not None:
        per_modality("seq_len", seq_len, check_positive_int)
    for name, value in zip(DIM_ARGUMENTS.values(), (text_dim, audio_dim, video_dim)):
        optional(check_positive_int)(name, value)


def check_input_shapes(model, inputs_shape):
    """Checks the input dict's shapes against `model`'s data arguments.

    `model` has the attributes `seq_len`, `text_dim`, `audio_dim`, `video_dim` (each
    `None` = unchecked) and `text_vocab_size`. Raises `ValueError` naming the input
    and the argument it contradicts.
    """
    check_modalities(inputs_shape)
    lengths = None if model.seq_len is None else per_modality("seq_len", model.seq_len,
                                                              check_positive_int)
    for m in MODALITIES:
        shape = tuple(inputs_shape[m])
        token_ids = m == "text" and model.text_vocab_size is not None
        if len(shape) != (2 if token_ids else 3):
            expected = "(batch, time) token ids" if token_ids else "(batch, time, dim) features"
            raise ValueError(f"`{m}` must be {expected}; received {m} with shape {shape}")
        dim_argument = DIM_ARGUMENTS[m]
        dim = getattr(model, dim_argument)
        if not token_ids and dim is not None and shape[-1] is not None and shape[-1] != dim:
            raise ValueError(
                f"The last dimension of `{m}` must equal `{dim_argument}`={dim}; "
                f"received {m} with shape {shape}"
            )
        if lengths is not None and shape[1] is not None and shape[1] > lengths[m]:
            raise ValueError(
                f"`{m}` has {shape[1]} steps, more than `seq_len`={model.seq_len!r} allows; "
                f"received {m} with shape {shape}"
            )
