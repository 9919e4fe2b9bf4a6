"""The Free Transformer: a decoder conditioned on per-token random latents, trained as a
conditional VAE (Fleuret, 2025)."""

import math

import keras
import numpy as np
from keras import ops

from msa_tf.layers import CrossAttentionBlock, LearnablePositionalEmbedding
from msa_tf.layers.dropout import random_bits
from msa_tf.models.registry import register
from msa_tf.models.sequence.causal_lm import causal_blocks
from msa_tf.models.sequence.components import LanguageModel
from msa_tf.validation import check_divisible, is_integer

# The seed of the latent that inference uses when none is given: a fixed draw per
# position, the same for every call, so inference is a function of the weights alone.
INFERENCE_LATENT_SEED = (2510, 17558)
# The default free bits: half a bit per token, in nats.
HALF_A_BIT = math.log(2) / 2


def _masked_mean(values, mask):
    """The mean of float32 `values` `(batch, time)` over the real steps of `mask` (or all)."""
    if mask is None:
        return ops.mean(values)
    real = ops.cast(mask, "float32")
    return ops.sum(values * real) / ops.maximum(ops.sum(real), 1.0)


@register("free_transformer")
@keras.saving.register_keras_serializable(package="msa_tf")
class FreeTransformer(LanguageModel):
    """A decoder Transformer whose second half is conditioned on a random latent per token.

    The first `num_layers / 2` causal blocks read the tokens. A latent `Z_t`, one of
    `2**latent_bits` values, is then chosen for every position, projected to `width`
    by a linear layer of its one-hot code (an `Embedding`) and added to the hidden
    states that enter the second half of the causal blocks.

    Training (`training=True`) is a conditional VAE. A non-causal encoder block (a
    `CrossAttentionBlock`) whose queries are one learned vector plus a learned vector
    per position attends to the middle hidden states of all real tokens; a linear
    readout gives `latent_bits` logits per position. The binary mapper samples each bit
    `b_h ~ Bernoulli(sigmoid(logit_h))`, takes the one-hot code of `Z_t = sum_h b_h 2**h`
    and passes gradients straight through: `one_hot + p - stop_gradient(p)`, `p` the
    probabilities of the `2**latent_bits` values (products of the bit probabilities).
    The model adds (`add_loss`, float32) the free-bits KL term
    `mean over real positions of max(0, KL_t - kappa)`, where
    `KL_t = KL(Q(Z_t | tokens) || uniform) = sum_h (log 2 - entropy(bit h))` in nats.
    The mean KL of real positions (before the free bits) is the metric `kl`, logged by
    `fit` and `evaluate` (the encoder also runs in inference mode for it; compiled
    prediction drops that unused work).

    Inference (`training=False`) draws `Z` from the uniform prior. Without a given
    latent it is a fixed pseudo-random draw per position (`INFERENCE_LATENT_SEED`),
    the same in every call and for every sample, so outputs depend on the weights and
    inputs only (saved models reproduce them; padding checks compare them). A latent
    given in the input dict (`"latent"`, int `(batch, length)` in
    `[0, 2**latent_bits)`) replaces the encoder's sample or the prior in either mode
    (then no KL is computed). `generate` draws a fresh uniform latent per sample and
    position from its `seed`, or uses the one passed as `latent=`.

    Deviations from the paper: `Z`'s projection joins the residual stream entering the
    second half (the paper adds it to the keys and values of the first block of the
    second half only), and the encoder's queries get learned positions because the
    attention here has no rotary embeddings to tell the positions apart.

    Args:
        vocab_size: number of token ids (from the data).
        max_length: the fixed sequence length (from the data).
        width: model width; a multiple of `num_heads`.
        num_heads: attention heads (decoder and encoder blocks).
        num_layers: causal blocks, an even number: half before the latent, half after.
        ff_dim: feed-forward width; `None`: `4 * width`.
        latent_bits: bits `H` of each latent, in [1, 16]; `Z_t` takes `2**H` values.
        kappa: free bits, in nats per token, >= 0: a KL below it is not penalised.
            The default is `log(2) / 2`, half a bit per token, in the range of the
            paper's settings (a fraction of a bit to a few bits per token). A large
            `kappa` lets `Z` carry the tokens themselves, which training can read
            but generation from the prior cannot; `0` pulls `Z` towards the prior.
        dropout: dropout on attention weights and sub-layer outputs, in [0, 1).
        tie_embeddings: output logits `h @ E^T` with the token table `E` (`True`) or
            from output weights of their own.

    Call arguments:
        inputs: dict with `tokens` int `(batch, length)`, optional boolean
            `tokens_mask` `(batch, length)` (`True` = real token) and optional int
            `latent` `(batch, length)`.
        training: Python boolean: the encoder's latent and the KL loss, and dropout.

    Returns `{"next_token": float32 logits (batch, length, vocab_size)}`.

    Example:
    >>> model = FreeTransformer(vocab_size=12, max_length=8, width=16, num_heads=2,
    ...                         latent_bits=4)
    >>> model({"tokens": np.ones((2, 8), "int32")})["next_token"].shape
    TensorShape([2, 8, 12])
    >>> a = model.generate([1, 5], max_new_tokens=5, seed=1, latent=3)
    >>> b = model.generate([1, 5], max_new_tokens=5, seed=2, latent=3, temperature=0)
    >>> a.shape, b.shape
    ((7,), (7,))

    Reference:
        Fleuret, "The Free Transformer", arXiv:2510.17558, 2025.
    """

    def __init__(self, vocab_size, max_length, width=64, num_heads=4, num_layers=4, ff_dim=None,
                 latent_bits=8, kappa=HALF_A_BIT, dropout=0.0, tie_embeddings=True, **kwargs):
        super().__init__(**kwargs)
        self._set_arguments(
            vocab_size=vocab_size, max_length=max_length, width=width, num_heads=num_heads,
            num_layers=num_layers, ff_dim=ff_dim, latent_bits=latent_bits, kappa=kappa,
            dropout=dropout, tie_embeddings=tie_embeddings,
        )
        check_divisible("width", self.width, "num_heads", self.num_heads)
        if self.num_layers % 2:
            raise ValueError("`num_layers` must be an even positive integer (half the blocks come "
                             f"before the latent, half after); received num_layers={num_layers!r}")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.seed_generator = keras.random.SeedGenerator(name="latent_seed_generator")
        # The KL of the last call, for `compute_loss` of the same training or test step.
        self._kl = None

    @property
    def num_latents(self):
        """The number of values of each latent, `2**latent_bits`."""
        return 2**self.latent_bits

    def build(self, inputs_shape):
        hidden_shape = self._build_ends(inputs_shape)
        policy = self.dtype_policy
        self.blocks = causal_blocks(self, self.num_layers)
        for block in self.blocks:
            block.build(hidden_shape)
        self.encoder_query = self.add_weight(name="encoder_query", shape=(self.width,),
                                             initializer="zeros")
        self.encoder_positions = LearnablePositionalEmbedding(self.max_length, dtype=policy,
                                                              name="encoder_positions")
        self.encoder_positions.build(hidden_shape)
        self.encoder_block = CrossAttentionBlock(self.width, self.num_heads, ff_dim=self.ff_dim,
                                                 dropout=self.dropout, dtype=policy,
                                                 name="encoder_block")
        self.encoder_block.build(hidden_shape, hidden_shape)
        self.encoder_readout = keras.layers.Dense(self.latent_bits, dtype="float32",
                                                  name="encoder_readout")
        self.encoder_readout.build(hidden_shape)
        self.latent_projection = keras.layers.Embedding(self.num_latents, self.width, dtype=policy,
                                                        name="latent_projection")
        self.latent_projection.build(hidden_shape[:2])
        # Bit h of every latent value, (2**H, H): the binary mapper's codes.
        values = np.arange(self.num_latents)[:, None]
        self._codes = ((values >> np.arange(self.latent_bits)) & 1).astype("float32")

    def call(self, inputs, training=None):
        self._kl = None
        x, mask = self._embed(inputs)
        half = self.num_layers // 2
        for block in self.blocks[:half]:
            x = block(x, mask=mask, training=training)
        latent = inputs.get("latent")
        if latent is not None:
            injected = self.latent_projection(ops.cast(latent, "int32"))
        else:
            bit_logits = self._encode(x, mask, training)
            kl = self._kl_per_position(bit_logits)
            self._kl = _masked_mean(kl, mask)
            if training:
                injected = self._sample_posterior(bit_logits)
                self.add_loss(_masked_mean(ops.maximum(kl - self.kappa, 0.0), mask))
            else:
                injected = self.latent_projection(self._prior_latent(x))
        x = x + ops.cast(injected, x.dtype)
        for block in self.blocks[half:]:
            x = block(x, mask=mask, training=training)
        return self._outputs(x)

    def _encode(self, hidden, mask, training):
        """The bit logits `(batch, time, latent_bits)` float32 of the non-causal encoder."""
        query = ops.broadcast_to(ops.cast(self.encoder_query, hidden.dtype), ops.shape(hidden))
        query = self.encoder_positions(query)
        encoded = self.encoder_block(query, hidden, query_mask=mask, context_mask=mask,
                                     training=training)
        return self.encoder_readout(encoded)

    def _kl_per_position(self, bit_logits):
        """`KL(Q(Z_t) || uniform)` in nats, `(batch, time)` float32: `sum_h log 2 - entropy_h`."""
        log_one, log_zero = ops.log_sigmoid(bit_logits), ops.log_sigmoid(-bit_logits)
        one = ops.sigmoid(bit_logits)
        entropy = -(one * log_one + (1.0 - one) * log_zero)
        return ops.sum(math.log(2.0) - entropy, axis=-1)

    def _sample_posterior(self, bit_logits):
        """The projected one-hot latents sampled from the bit logits, gradients straight through."""
        shape = tuple(ops.shape(bit_logits))
        # 24 random bits per draw: a float32 uniform in [0, 1).
        bits = random_bits(shape, self.seed_generator.next())
        uniform = ops.cast(ops.right_shift(bits, 8), "float32") * (2.0**-24)
        sampled = ops.cast(uniform < ops.sigmoid(bit_logits), "int32")
        powers = ops.convert_to_tensor(2 ** np.arange(self.latent_bits), "int32")
        index = ops.sum(sampled * powers, axis=-1)
        codes = ops.convert_to_tensor(self._codes)
        log_probabilities = ops.matmul(ops.log_sigmoid(bit_logits), ops.transpose(codes)) + ops.matmul(
            ops.log_sigmoid(-bit_logits), ops.transpose(1.0 - codes)
        )
        table = ops.cast(self.latent_projection.embeddings, "float32")
        soft = ops.matmul(ops.exp(log_probabilities), table)
        straight_through = ops.cast(soft - ops.stop_gradient(soft), self.compute_dtype)
        return self.latent_projection(index) + straight_through

    def _prior_latent(self, hidden):
        """The fixed uniform draw of latents `(batch, time)` that inference uses by default."""
        bits = random_bits((self.max_length,), INFERENCE_LATENT_SEED)
        values = ops.cast(ops.right_shift(bits, 32 - self.latent_bits), "int32")
        return ops.broadcast_to(values[None, : ops.shape(hidden)[1]], ops.shape(hidden)[:2])

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x, y, y_pred, sample_weight, training=training)
        kl, self._kl = self._kl, None
        if kl is not None:
            self.kl_tracker.update_state(kl)
        return loss

    def generate(self, prompt, max_new_tokens, temperature=1.0, top_k=None, seed=None, latent=None):
        """Continues `prompt` by `max_new_tokens` tokens under a latent drawn once per call.

        As `LanguageModel.generate`, with

        Args:
            latent: `None` draws `Z` uniformly per sample and position from `seed`; an
                int in `[0, 2**latent_bits)` fixes the same `Z` everywhere; an int array
                `(max_length,)` or `(batch, max_length)` fixes `Z` per position.
        """
        prompt, squeeze, temperature, top_k, rng = self._check_generate_arguments(
            prompt, max_new_tokens, temperature, top_k, seed
        )
        latent = self._generation_latent(latent, prompt.shape[0], rng)
        return self._generate(prompt, squeeze, max_new_tokens, temperature, top_k, rng,
                              {"latent": latent})

    def _generation_latent(self, latent, batch, rng):
        shape = (batch, self.max_length)
        if latent is None:
            return rng.integers(0, self.num_latents, size=shape).astype("int32")
        array = np.asarray(latent)
        fits = (
            (is_integer(latent) or np.issubdtype(array.dtype, np.integer))
            and array.shape in ((), (self.max_length,), shape)
            and array.min() >= 0
            and array.max() < self.num_latents
        )
        if not fits:
            raise ValueError(
                f"`latent` must be None, an int in [0, {self.num_latents}) or such ints of shape "
                f"({self.max_length},) or {shape}; received latent={latent!r}"
            )
        return np.broadcast_to(array, shape).astype("int32")
