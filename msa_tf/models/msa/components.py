"""Pieces every multimodal sentiment model shares: input parsing, projection, heads."""

import functools

import keras

# The input parsing and the encoders live in msa_tf.layers; the models import them from here too.
from msa_tf.layers import (  # noqa: F401
    Dropout,
    ModalityProjection,
    SequenceEncoder,
    check_modalities,
    modality_inputs,
)
from msa_tf.modalities import MODALITIES
from msa_tf.models.base import ZooModel
from msa_tf.validation import (
    check_bool,
    check_int,
    check_number,
    check_positive_int,
    check_rate,
    constructor_arguments,
    optional,
    per_key,
)


def sequence_encoders(model, modalities=MODALITIES):
    """`{modality: SequenceEncoder}` made from `model`'s arguments of the same names.

    Each encoder is `model_dim` wide with `num_layers` blocks; its position table has
    `seq_len` steps (one int or a dict per modality), or with `seq_len=None` the length
    of its input. Text is read as token ids when `text_vocab_size` is set.
    """
    lengths = per_key("seq_len", model.seq_len, MODALITIES, optional(check_positive_int))
    return {
        m: SequenceEncoder(
            model.model_dim, model.num_heads, model.ff_dim, model.num_layers, lengths[m],
            vocab_size=model.text_vocab_size if m == "text" else None,
            dropout=model.dropout, dtype=model.dtype_policy, name=f"{m}_encoder",
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
        self.hidden_dropout = Dropout(self.dropout, dtype=self.dtype_policy)
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


def check_per_modality(name, value, check=check_positive_int):
    """`value`, one value for every modality or a dict naming each, checked by `check`.

    Returns it in the form it was given (a dict is copied).

    >>> check_per_modality("seq_len", 5), check_per_modality("seq_len", dict(text=4, audio=6, vision=2))
    (5, {'text': 4, 'audio': 6, 'vision': 2})
    """
    checked = per_key(name, value, MODALITIES, check)
    return checked if isinstance(value, dict) else checked[MODALITIES[0]]


def _check_non_negative(name, value):
    return check_number(name, value, low=0)


# The check of each argument name, the same in every model of the zoo that takes it.
# `seq_len`, `text_dim`, `audio_dim` and `vision_dim` are optional (`None`: taken from
# the inputs when the model is built). Arguments whose accepted values depend on the
# model (`pooling`, the `model_dim` of TFN and LMF) are checked by the model itself.
ARGUMENT_CHECKS = {
    "seq_len": optional(check_per_modality),
    "text_dim": optional(check_positive_int),
    "audio_dim": optional(check_positive_int),
    "vision_dim": optional(check_positive_int),
    "model_dim": check_positive_int,
    "num_heads": check_positive_int,
    "ff_dim": check_positive_int,
    "num_layers": check_int,
    "num_cross_layers": check_positive_int,
    "quality_dim": check_positive_int,
    "post_fusion_dim": check_positive_int,
    "rank": check_positive_int,
    "dropout": check_rate,
    "attention_dropout": functools.partial(check_per_modality, check=check_rate),
    "residual_dropout": optional(check_rate),
    "text_dropout": optional(check_rate),
    "embedding_dropout": check_rate,
    "output_dropout": check_rate,
    "modality_dropout": check_rate,
    "ema_decay": check_rate,
    "aux_weight": _check_non_negative,
    "balance": _check_non_negative,
    "seed": check_int,
    "bidirectional_fusion": check_bool,
    "causal": check_bool,
    "conv_kernel_sizes": check_per_modality,
    "text_vocab_size": optional(check_positive_int),
    "num_classes": optional(check_positive_int),
}


class SentimentModel(ZooModel):
    """Base of the sentiment models: checked arguments and a flat config of them.

    A subclass stores each `__init__` argument as an attribute of the same name
    (`_set_arguments` checks and stores them); `get_config()` returns them all, so
    `from_config(config)` is `cls(**config)`.
    """

    def _set_arguments(self, **arguments):
        """Checks each argument named in `ARGUMENT_CHECKS`, stores every one as an attribute."""
        for name, value in arguments.items():
            check = ARGUMENT_CHECKS.get(name)
            setattr(self, name, value if check is None else check(name, value))

    def get_config(self):
        config = super().get_config()
        for name in constructor_arguments(type(self)):
            value = getattr(self, name)
            config[name] = list(value) if isinstance(value, tuple) else value
        return config


def check_input_shapes(model, inputs_shape, modalities=MODALITIES, needs_lengths=False):
    """Checks the input dict's shapes against `model`'s data arguments.

    `model` has the attributes `seq_len`, `text_dim`, `audio_dim`, `vision_dim` (each
    `None` = unchecked) and `text_vocab_size`. With `needs_lengths` (a layer is sized
    by the input lengths) and no `seq_len`, every length must be known. Raises
    `ValueError` naming the input and the argument it contradicts.
    """
    check_modalities(inputs_shape, modalities)
    lengths = None if model.seq_len is None else per_key("seq_len", model.seq_len, MODALITIES,
                                                         check_positive_int)
    for m in modalities:
        shape = tuple(inputs_shape[m])
        token_ids = m == "text" and model.text_vocab_size is not None
        if len(shape) != (2 if token_ids else 3):
            expected = "(batch, time) token ids" if token_ids else "(batch, time, dim) features"
            raise ValueError(f"`{m}` must be {expected}; received {m} with shape {shape}")
        dim_argument = f"{m}_dim"
        dim = getattr(model, dim_argument)
        if not token_ids and dim is not None and shape[-1] is not None and shape[-1] != dim:
            raise ValueError(
                f"The last dimension of `{m}` must equal `{dim_argument}`={dim}; "
                f"received {m} with shape {shape}"
            )
        if needs_lengths and lengths is None and shape[1] is None:
            raise ValueError(
                f"`seq_len` must be given for inputs of unknown length (it sizes the position "
                f"table); received seq_len=None and {m} with shape {shape}"
            )
        if lengths is not None and shape[1] is not None and shape[1] > lengths[m]:
            raise ValueError(
                f"`{m}` has {shape[1]} steps, more than `seq_len`={model.seq_len!r} allows; "
                f"received {m} with shape {shape}"
            )
