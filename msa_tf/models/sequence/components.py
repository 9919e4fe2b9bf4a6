"""Pieces every decoder language model shares: the embedding and output head, the input
dict, the checked arguments and a flat config, and `generate`.

The data contract: inputs `{"tokens": int32 (batch, length), "tokens_mask": bool (batch,
length)}`, right-padded with token 0 (PAD); outputs `{"next_token": float32 logits
(batch, length, vocab_size)}`, the logits at position `t` predicting the token after it.
"""

import keras
import numpy as np
from keras import ops

from msa_tf.layers import LearnablePositionalEmbedding
from msa_tf.layers.initializers import clone_initializer, get_initializer, initializers_config
from msa_tf.layers.masking import check_mask
from msa_tf.models.base import ZooModel
from msa_tf.validation import (
    check_bool,
    check_int,
    check_number,
    check_positive_int,
    check_rate,
    constructor_arguments,
    is_integer,
    optional,
)

# The most latent bits of the Free Transformer: its one-hot latent has 2**bits entries.
MAX_LATENT_BITS = 16


def _check_latent_bits(name, value):
    if not is_integer(value) or not 1 <= value <= MAX_LATENT_BITS:
        raise ValueError(f"`{name}` must be an integer in [1, {MAX_LATENT_BITS}]; received {name}={value!r}")
    return int(value)


# The check of each argument name, the same in every language model that takes it.
# Model-specific constraints (an even `num_layers`, `width` divisible by `num_heads`)
# are checked by the model itself.
ARGUMENT_CHECKS = {
    "vocab_size": check_positive_int,
    "max_length": check_positive_int,
    "width": check_positive_int,
    "num_heads": check_positive_int,
    "num_layers": check_positive_int,
    "ff_dim": optional(check_positive_int),
    "kernel_size": check_positive_int,
    "dropout": check_rate,
    "tie_embeddings": check_bool,
    "latent_bits": _check_latent_bits,
    "kappa": lambda name, value: check_number(name, value, low=0),
}


@keras.saving.register_keras_serializable(package="msa_tf")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embedding plus learnable positions, and the matching output head.

    Called on token ids it embeds them and adds a learned vector per position
    (`LearnablePositionalEmbedding`). Called with `reverse=True` on hidden states it
    gives next-token logits in float32: `hidden @ E^T` with the token table `E` when
    `tie_weights` (Press and Wolf, 2017), else `hidden @ W + b` with its own weights.

    Args:
        vocab_size: number of token ids; ids are in `[0, vocab_size)`.
        max_length: the longest sequence (size of the position table).
        width: embedding size.
        tie_weights: whether the output head reuses the token table.
        embeddings_initializer: initializer of the token and position tables.

    Call arguments:
        inputs: int token ids `(batch, time)` with `time <= max_length`, or with
            `reverse=True` hidden states `(batch, time, width)`.
        reverse: `False` to embed, `True` for the logits.

    Returns `(batch, time, width)` in the compute dtype, or float32 logits
    `(batch, time, vocab_size)` with `reverse=True`. An incoming Keras mask is accepted
    and not passed on: the models give masks explicitly, and logits without a mask
    leave losses to the labels' own ignored value.

    Example:
    >>> layer = TokenAndPositionEmbedding(vocab_size=10, max_length=6, width=8)
    >>> hidden = layer(np.ones((2, 5), "int32"))
    >>> hidden.shape, layer(hidden, reverse=True).shape
    (TensorShape([2, 5, 8]), TensorShape([2, 5, 10]))

    Reference:
        Press and Wolf, "Using the Output Embedding to Improve Language Models", EACL 2017.
    """

    def __init__(self, vocab_size, max_length, width, tie_weights=True,
                 embeddings_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.max_length = check_positive_int("max_length", max_length)
        self.width = check_positive_int("width", width)
        self.tie_weights = check_bool("tie_weights", tie_weights)
        self.embeddings_initializer = get_initializer("embeddings_initializer", embeddings_initializer)
        self.supports_masking = True

    def build(self, inputs_shape):
        # The tables are read in float32 (`autocast=False`): the logits are computed in
        # float32 from them, and ids look up float32 rows that are then cast.
        self.token_embeddings = self.add_weight(
            name="token_embeddings", shape=(self.vocab_size, self.width),
            initializer=clone_initializer(self.embeddings_initializer), autocast=False,
        )
        self.positions = LearnablePositionalEmbedding(
            self.max_length, self.embeddings_initializer, dtype=self.dtype_policy, name="positions"
        )
        self.positions.build((*inputs_shape[:2], self.width))
        if not self.tie_weights:
            self.output_kernel = self.add_weight(
                name="output_kernel", shape=(self.width, self.vocab_size),
                initializer="glorot_uniform", autocast=False,
            )
            self.output_bias = self.add_weight(
                name="output_bias", shape=(self.vocab_size,), initializer="zeros", autocast=False,
            )

    def call(self, inputs, reverse=False):
        if not reverse:
            table = ops.convert_to_tensor(self.token_embeddings)
            embedded = ops.take(table, ops.cast(inputs, "int32"), axis=0)
            return self.positions(ops.cast(embedded, self.compute_dtype))
        hidden = ops.cast(inputs, "float32")
        if self.tie_weights:
            return ops.matmul(hidden, ops.transpose(ops.convert_to_tensor(self.token_embeddings)))
        kernel, bias = ops.convert_to_tensor(self.output_kernel), ops.convert_to_tensor(self.output_bias)
        return ops.matmul(hidden, kernel) + bias

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def compute_output_shape(self, inputs_shape, reverse=False):
        if reverse:
            return (*inputs_shape[:-1], self.vocab_size)
        return (*inputs_shape, self.width)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size, max_length=self.max_length, width=self.width,
            tie_weights=self.tie_weights,
            **initializers_config(self, ["embeddings_initializer"]),
        )
        return config


def _token_inputs(inputs):
    """`(tokens, mask)` from the input dict; padded ids become PAD, so they never count."""
    if not isinstance(inputs, dict) or "tokens" not in inputs:
        keys = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
        raise ValueError(f"The input dict has no 'tokens'; received {keys}")
    tokens = inputs["tokens"]
    if len(tokens.shape) != 2:
        raise ValueError(
            f"`tokens` must be int token ids (batch, time); received tokens with shape {tuple(tokens.shape)}"
        )
    tokens = ops.cast(tokens, "int32")
    mask = check_mask(inputs.get("tokens_mask"), tokens, "tokens_mask")
    if mask is None:
        return tokens, None
    return ops.where(mask, tokens, ops.zeros((), "int32")), mask


def _pick_tokens(logits, temperature, top_k, rng):
    """The next token of each row of float64 `logits` `(batch, vocab)`."""
    if temperature == 0:
        return np.argmax(logits, axis=-1)
    scaled = logits / temperature
    if top_k is not None:
        # A stable sort keeps exactly `top_k` candidates; with ties the lower ids, as argmax.
        dropped = np.argsort(-scaled, axis=-1, kind="stable")[:, top_k:]
        np.put_along_axis(scaled, dropped, -np.inf, axis=-1)
    # Gumbel-max: the argmax of logits plus Gumbel noise is a sample of their softmax.
    return np.argmax(scaled + rng.gumbel(size=scaled.shape), axis=-1)


class LanguageModel(ZooModel):
    """Base of the decoder language models: the shared ends, config and `generate`.

    A subclass stores each `__init__` argument as an attribute of the same name
    (`_set_arguments` checks and stores them), builds `self.embedding` and
    `self.final_norm` with `_build_ends`, and in `call` turns the input dict into
    embedded tokens with `_embed` and hidden states into the output dict with
    `_outputs`.
    """

    def _set_arguments(self, **arguments):
        """Checks each argument named in `ARGUMENT_CHECKS`, stores every one as an attribute."""
        for name, value in arguments.items():
            check = ARGUMENT_CHECKS.get(name)
            setattr(self, name, value if check is None else check(name, value))

    def _build_ends(self, inputs_shape):
        """Builds the embedding (and head) and the final normalisation; returns the hidden shape."""
        if not isinstance(inputs_shape, dict) or "tokens" not in inputs_shape:
            keys = sorted(inputs_shape) if isinstance(inputs_shape, dict) else inputs_shape
            raise ValueError(f"The input dict has no 'tokens'; received {keys}")
        tokens_shape = tuple(inputs_shape["tokens"])
        if len(tokens_shape) != 2:
            raise ValueError(f"`tokens` must be int token ids (batch, time); received tokens "
                             f"with shape {tokens_shape}")
        if tokens_shape[1] is not None and tokens_shape[1] > self.max_length:
            raise ValueError(f"`tokens` has {tokens_shape[1]} steps, more than `max_length`="
                             f"{self.max_length} allows; received tokens with shape {tokens_shape}")
        self.embedding = TokenAndPositionEmbedding(
            self.vocab_size, self.max_length, self.width, tie_weights=self.tie_embeddings,
            dtype=self.dtype_policy, name="embedding",
        )
        self.embedding.build(tokens_shape)
        hidden_shape = (*tokens_shape, self.width)
        self.final_norm = keras.layers.LayerNormalization(
            epsilon=1e-5, dtype=self.dtype_policy, name="final_norm"
        )
        self.final_norm.build(hidden_shape)
        return hidden_shape

    def _embed(self, inputs):
        """`(embedded tokens (batch, time, width), mask or None)` of the input dict."""
        tokens, mask = _token_inputs(inputs)
        return self.embedding(tokens), mask

    def _outputs(self, hidden):
        """The output dict of the last hidden states."""
        return {"next_token": self.embedding(self.final_norm(hidden), reverse=True)}

    def get_config(self):
        config = super().get_config()
        for name in constructor_arguments(type(self)):
            config[name] = getattr(self, name)
        return config

    def generate(self, prompt, max_new_tokens, temperature=1.0, top_k=None, seed=None):
        """Continues `prompt` by `max_new_tokens` tokens, one at a time.

        Each step runs the model (inference mode) on a buffer padded to `max_length`,
        so the compiled prediction function is traced once, and picks the next token
        from the logits at the last real position.

        Args:
            prompt: int token ids, 1-D `(length,)` or 2-D `(batch, length)`, at least
                one token each, in `[0, vocab_size)`.
            max_new_tokens: number of tokens to add, >= 0; with the prompt at most
                `max_length` tokens in all.
            temperature: >= 0; 0 is greedy decoding (the argmax), otherwise tokens are
                sampled from `softmax(logits / temperature)`.
            top_k: `None`, or sample among the `top_k` most likely tokens only
                (`top_k=1` is greedy).
            seed: an int for reproducible sampling; `None` draws a fresh one.

        Returns the prompt followed by the new tokens, NumPy int32 of the prompt's rank.

        Raises `ValueError` naming the argument for a bad prompt or setting.
        """
        prompt, squeeze, temperature, top_k, rng = self._check_generate_arguments(
            prompt, max_new_tokens, temperature, top_k, seed
        )
        return self._generate(prompt, squeeze, max_new_tokens, temperature, top_k, rng, {})

    def _check_generate_arguments(self, prompt, max_new_tokens, temperature, top_k, seed):
        array = np.asarray(prompt)
        if array.ndim not in (1, 2) or array.shape[-1] == 0 or array.size == 0:
            raise ValueError("`prompt` must be token ids of shape (length,) or (batch, length) with "
                             f"length >= 1; received prompt with shape {array.shape}")
        if not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"`prompt` must hold integer token ids; received dtype {array.dtype}")
        if array.min() < 0 or array.max() >= self.vocab_size:
            raise ValueError(f"`prompt` ids must be in [0, vocab_size={self.vocab_size}); received "
                             f"ids from {array.min()} to {array.max()}")
        max_new_tokens = check_int("max_new_tokens", max_new_tokens)
        length = array.shape[-1]
        if length + max_new_tokens > self.max_length:
            raise ValueError(
                f"`max_new_tokens` plus the prompt's {length} tokens must be at most `max_length`="
                f"{self.max_length}; received max_new_tokens={max_new_tokens}"
            )
        temperature = check_number("temperature", temperature, low=0)
        if top_k is not None and (not is_integer(top_k) or not 1 <= top_k <= self.vocab_size):
            raise ValueError(f"`top_k` must be None or an integer in [1, vocab_size={self.vocab_size}]; "
                             f"received top_k={top_k!r}")
        seed = optional(check_int)("seed", seed)
        squeeze = array.ndim == 1
        return (np.atleast_2d(array).astype("int32"), squeeze, temperature, top_k,
                np.random.default_rng(seed))

    def _generate(self, prompt, squeeze, max_new_tokens, temperature, top_k, rng, extra_inputs):
        """The generation loop; `extra_inputs` are more arrays of the input dict."""
        batch, length = prompt.shape
        tokens = np.zeros((batch, self.max_length), "int32")
        tokens[:, :length] = prompt
        mask = np.zeros((batch, self.max_length), bool)
        mask[:, :length] = True
        for position in range(length, length + max_new_tokens):
            inputs = {"tokens": tokens, "tokens_mask": mask, **extra_inputs}
            logits = np.asarray(self.predict_on_batch(inputs)["next_token"], "float64")
            tokens[:, position] = _pick_tokens(logits[:, position - 1], temperature, top_k, rng)
            mask[:, position] = True
        generated = tokens[:, : length + max_new_tokens]
        return generated[0] if squeeze else generated
