"""A modality-balanced sequence-level model: modality dropout and adaptive unimodal losses."""

import keras
from keras import ops

from msa_tf.backend import require_backend
from msa_tf.layers import MaskedPooling
from msa_tf.modalities import MODALITIES
from msa_tf.models.msa.components import modality_inputs
from msa_tf.models.msa.seq_level import MSASeqLevelModel
from msa_tf.models.registry import register


@register("msa_balanced")
@keras.saving.register_keras_serializable(package="msa_tf")
class BalancedMSAModel(MSASeqLevelModel):
    """`MSASeqLevelModel` trained so that no modality is left behind.

    Training adds, to the compiled loss, auxiliary unimodal regression losses: each
    modality's encoder output is mean-pooled into its own linear head, and its mean
    squared error against the `regression` target is weighted. The weights follow
    each modality's relative progress, in the spirit of on-the-fly gradient
    modulation (Peng et al., CVPR 2022): with `p_m` the running (EMA) unimodal loss
    divided by its first value, `w_m = M p_m^balance / sum_k p_k^balance`, so a
    modality that has improved least gets the largest weight (they average to 1).
    During training each modality of each sample is also dropped (its mask set to
    all `False`) with probability `modality_dropout`, so the fusion cannot lean on
    one modality. All of it lives in `train_step` (on the TensorFlow and JAX
    backends): `model.fit`, callbacks and distribution strategies work as usual;
    prediction and `evaluate` use the plain model. The state (`aux_loss_ema`,
    `aux_loss_initial`, `aux_weights`) is saved with the model, and the weights
    show up in the training logs as `weight_text` and so on.

    Args:
        modality_dropout: probability of dropping a modality of a sample in training,
            in [0, 1).
        aux_weight: the overall scale of the unimodal losses, >= 0.
        balance: the exponent of the progress ratio, >= 0 (0 = equal weights).
        ema_decay: the decay of the running unimodal losses, in [0, 1).
        seed: seed of the modality dropout, an integer >= 0.
        Other arguments: as for `MSASeqLevelModel`.

    Example:
    >>> model = BalancedMSAModel(model_dim=8, num_heads=2, ff_dim=16)
    >>> inputs = {"text": np.ones((2, 6, 5)), "audio": np.ones((2, 6, 4)),
    ...           "vision": np.ones((2, 6, 3))}
    >>> model(inputs)["regression"].shape
    TensorShape([2, 1])

    Reference:
        Peng et al., "Balanced Multimodal Learning via On-the-fly Gradient
        Modulation", CVPR 2022.
    """

    def __init__(
        self,
        seq_len=None,
        text_dim=None,
        audio_dim=None,
        vision_dim=None,
        model_dim=64,
        num_heads=4,
        ff_dim=128,
        num_layers=1,
        num_cross_layers=1,
        bidirectional_fusion=False,
        pooling="attention",
        dropout=0.1,
        text_vocab_size=None,
        num_classes=None,
        modality_dropout=0.1,
        aux_weight=0.5,
        balance=1.0,
        ema_decay=0.9,
        seed=0,
        **kwargs,
    ):
        super().__init__(
            seq_len=seq_len, text_dim=text_dim, audio_dim=audio_dim, vision_dim=vision_dim,
            model_dim=model_dim, num_heads=num_heads, ff_dim=ff_dim, num_layers=num_layers,
            num_cross_layers=num_cross_layers, bidirectional_fusion=bidirectional_fusion,
            pooling=pooling, dropout=dropout, text_vocab_size=text_vocab_size,
            num_classes=num_classes, **kwargs,
        )
        self._set_arguments(modality_dropout=modality_dropout, aux_weight=aux_weight,
                            balance=balance, ema_decay=ema_decay, seed=seed)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.aux_poolers = {
            m: MaskedPooling("mean", dtype=self.dtype_policy, name=f"{m}_aux_pooling")
            for m in MODALITIES
        }
        self.aux_heads = {
            m: keras.layers.Dense(1, dtype="float32", name=f"{m}_aux_head") for m in MODALITIES
        }
        self.aux_trackers = {m: keras.metrics.Mean(name=f"aux_{m}_loss") for m in MODALITIES}
        self.weight_trackers = {m: keras.metrics.Mean(name=f"weight_{m}") for m in MODALITIES}

    def build(self, inputs_shape):
        super().build(inputs_shape)
        for m in MODALITIES:
            encoded = (*inputs_shape[m][:2], self.model_dim)
            self.aux_poolers[m].build(encoded)
            self.aux_heads[m].build((encoded[0], self.model_dim))
        count = len(MODALITIES)
        self.aux_loss_ema = self.add_weight(
            shape=(count,), initializer="zeros", trainable=False, name="aux_loss_ema"
        )
        self.aux_loss_initial = self.add_weight(
            shape=(count,), initializer="zeros", trainable=False, name="aux_loss_initial"
        )
        self.aux_weights = self.add_weight(
            shape=(count,), initializer="ones", trainable=False, name="aux_weights"
        )

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # Only evaluation gets here (`train_step` logs its own); the unimodal trackers
        # only measure training, so evaluation would report them as 0.
        own = {metric.name for metric in [*self.aux_trackers.values(), *self.weight_trackers.values()]}
        logs = super().compute_metrics(x, y, y_pred, sample_weight)
        return {name: value for name, value in logs.items() if name not in own}

    def _dropped(self, parsed):
        """The parsed inputs with whole modalities of samples masked out at random."""
        if not self.modality_dropout:
            return parsed
        batch = ops.shape(parsed["text"][1])[0]
        keep = keras.random.uniform((batch, len(MODALITIES)), seed=self.seed_generator)
        keep = keep >= self.modality_dropout
        # A sample keeps all its modalities rather than losing every one.
        keep = ops.logical_or(keep, ops.logical_not(ops.any(keep, axis=1, keepdims=True)))
        return {
            m: (x, ops.logical_and(mask, keep[:, i : i + 1]))
            for i, (m, (x, mask)) in enumerate(parsed.items())
        }

    def _forward(self, inputs, training):
        """Outputs and the unimodal predictions, with modality dropout when training."""
        parsed = modality_inputs(inputs)
        if training:
            parsed = self._dropped(parsed)
        masks = [parsed[m][1] for m in MODALITIES]
        encoded = [self.encoders[m](x, mask=mask, training=training) for m, (x, mask) in parsed.items()]
        fused = self.fusion(*encoded, *masks, training=training)
        outputs = self.head(self.fusion_head(list(fused), mask=masks), training=training)
        unimodal = [
            self.aux_heads[m](self.aux_poolers[m](sequence, mask=mask))
            for m, sequence, mask in zip(MODALITIES, encoded, masks)
        ]
        return outputs, unimodal

    def _update_weights(self, aux_losses):
        # `.value`: JAX's `where` takes arrays, not Keras variables.
        initial = self.aux_loss_initial.value
        first_step = ops.all(ops.equal(initial, 0.0))
        initial = ops.where(first_step, aux_losses, initial)
        ema = ops.where(
            first_step, aux_losses,
            self.ema_decay * self.aux_loss_ema.value + (1.0 - self.ema_decay) * aux_losses,
        )
        progress = ema / ops.maximum(initial, 1e-6)
        powered = ops.power(ops.maximum(progress, 1e-6), self.balance)
        self.aux_loss_initial.assign(initial)
        self.aux_loss_ema.assign(ema)
        self.aux_weights.assign(len(MODALITIES) * powered / ops.sum(powered))

    def _loss_and_updates(self, data):
        """The scaled training loss and the logs; updates the unimodal weights and metrics.

        Written statefully; each backend's `train_step` differentiates it its own way.
        """
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        target = ops.cast(y["regression"], "float32")
        outputs, unimodal = self._forward(x, training=True)
        loss = self.compute_loss(x=x, y=y, y_pred=outputs, sample_weight=sample_weight)
        aux_losses = ops.stack([ops.mean(ops.square(p - target)) for p in unimodal])
        weights = ops.stop_gradient(self.aux_weights)
        total = loss + self.aux_weight * ops.sum(weights * aux_losses)
        self._update_weights(ops.stop_gradient(aux_losses))
        for i, m in enumerate(MODALITIES):
            self.aux_trackers[m].update_state(aux_losses[i])
            self.weight_trackers[m].update_state(self.aux_weights[i])
        own = set(self.aux_trackers.values()) | set(self.weight_trackers.values())
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(total)
            elif metric not in own:
                metric.update_state(y, outputs, sample_weight=sample_weight)
        logs = {metric.name: metric.result() for metric in self.metrics}
        return self.optimizer.scale_loss(total), logs

    def train_step(self, *args):
        # Keras calls `train_step(data)` on TensorFlow, `train_step(state, data)` on JAX.
        if require_backend("BalancedMSAModel training", "tensorflow", "jax") == "jax":
            return self._jax_train_step(*args)
        return self._tensorflow_train_step(*args)

    def _tensorflow_train_step(self, data):
        import tensorflow as tf

        if not self.built:  # `fit` may trace this step before anything called the model
            x = keras.utils.unpack_x_y_sample_weight(data)[0]
            self.build({key: tuple(value.shape) for key, value in x.items()})
        with tf.GradientTape() as tape:
            scaled, logs = self._loss_and_updates(data)
        self.optimizer.apply(tape.gradient(scaled, self.trainable_weights), self.trainable_weights)
        return logs

    def _jax_train_step(self, state, data):
        """Stateless: `_loss_and_updates` runs in a `keras.StatelessScope` that holds `state`."""
        import jax

        trainable, non_trainable, optimizer_state, metrics_state = state
        others = [*self.non_trainable_variables, *self.metrics_variables]

        def loss_of(trainable):
            mapping = [
                *zip(self.trainable_variables, trainable),
                *zip(others, [*non_trainable, *metrics_state]),
                *zip(self.optimizer.variables, optimizer_state),
            ]
            with keras.StatelessScope(state_mapping=mapping) as scope:
                scaled, logs = self._loss_and_updates(data)
            return scaled, (logs, [scope.get_current_value(v) for v in others])

        (_, (logs, updated)), gradients = jax.value_and_grad(loss_of, has_aux=True)(trainable)
        trainable, optimizer_state = self.optimizer.stateless_apply(optimizer_state, gradients, trainable)
        count = len(non_trainable)
        return logs, (trainable, updated[:count], optimizer_state, updated[count:])
