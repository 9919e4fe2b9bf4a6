"""Fits a small cross-modal fusion model, built from msa-tf layers, on generated tensors.

The target depends on the text signal and on the product of the audio and vision
signals, so a model must fuse the modalities to fit it. Run `make demo`, or:

    python examples/fusion_quickstart.py --epochs 8 --samples 2048
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from msa_tf.layers import (  # noqa: E402
    AdaptiveFusionHead,
    CrossModalFusion,
    LearnablePositionalEmbedding,
    TransformerBlock,
    create_padding_mask,
)

SHAPES = {"text": (20, 32), "audio": (30, 16), "vision": (10, 16)}


def make_data(num_samples, seed):
    """Padded modality tensors with masks, and a regression target in [-3, 3]."""
    # Every split shares the directions along which each modality carries its signal.
    direction_rng = np.random.default_rng(99)
    directions = {name: direction_rng.normal(size=dim) for name, (_, dim) in SHAPES.items()}
    rng = np.random.default_rng(seed)
    signals = {name: rng.normal(size=num_samples) for name in SHAPES}
    target = np.clip(signals["text"] + signals["audio"] * signals["vision"], -3, 3)
    inputs = {}
    for name, (max_length, dim) in SHAPES.items():
        lengths = rng.integers(max_length // 2, max_length + 1, size=num_samples)
        mask = np.asarray(create_padding_mask(lengths=lengths, max_length=max_length))
        steps = signals[name][:, None, None] * directions[name] + rng.normal(
            scale=0.5, size=(num_samples, max_length, dim)
        )
        inputs[name] = (steps * mask[..., None]).astype("float32")
        inputs[f"{name}_mask"] = mask
    return inputs, target[:, None].astype("float32")


def build_model(width=32, num_heads=4):
    """Per-modality encoders, sequence-level cross-modal fusion, an adaptive head."""
    inputs, encoded, masks = {}, [], []
    for name, (max_length, dim) in SHAPES.items():
        inputs[name] = keras.Input((max_length, dim), name=name)
        inputs[f"{name}_mask"] = keras.Input((max_length,), dtype="bool", name=f"{name}_mask")
        x = keras.layers.Dense(width)(inputs[name])
        x = LearnablePositionalEmbedding(max_length)(x)
        x = TransformerBlock(width, num_heads)(x, mask=inputs[f"{name}_mask"])
        encoded.append(x)
        masks.append(inputs[f"{name}_mask"])
    fused = CrossModalFusion(width, num_heads, n_layers=1)(
        *encoded, text_mask=masks[0], audio_mask=masks[1], vision_mask=masks[2]
    )
    head = AdaptiveFusionHead("attention", modality_names=list(SHAPES))
    pooled = head(list(fused), mask=masks)
    hidden = keras.layers.Dense(width, activation="gelu")(pooled)
    output = keras.layers.Dense(1, dtype="float32", name="regression")(hidden)
    return keras.Model(inputs, output, name="fusion_quickstart"), head


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    train_x, train_y = make_data(args.samples, seed=args.seed)
    test_x, test_y = make_data(max(args.samples // 4, 64), seed=args.seed + 1)
    model, head = build_model()
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="mse", jit_compile=True)
    history = model.fit(train_x, train_y, batch_size=64, epochs=args.epochs, verbose=2)

    losses = history.history["loss"]
    predictions = model.predict(test_x, batch_size=256, verbose=0)
    test_mse = float(np.mean((predictions - test_y) ** 2))
    mean_mse = float(np.mean((train_y.mean() - test_y) ** 2))
    correlation = float(np.corrcoef(predictions[:, 0], test_y[:, 0])[0, 1])
    print(f"training loss: {losses[0]:.3f} (epoch 1) -> {losses[-1]:.3f} (epoch {len(losses)})")
    print(f"test MSE: {test_mse:.3f}  (mean predictor: {mean_mse:.3f})  Pearson r: {correlation:.3f}")
    print("modality weights:", head.modality_weights)
    return 0 if losses[-1] < losses[0] else 1


if __name__ == "__main__":
    raise SystemExit(main())
