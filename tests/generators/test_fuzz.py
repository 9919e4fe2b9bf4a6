"""Fuzzing the parameters of `MultimodalConfig` / `MultimodalGenerator`.

Each draw mixes valid values with bad ones (NaN, infinities, negative, huge, wrong types,
strings, None, bools, dicts with missing or extra keys, unknown fields). A draw with no
bad value must give valid data (finite features, masks and targets of the documented
shapes); a draw with one must raise `ValueError` or `TypeError` naming a bad parameter.
Any other exception, or non-finite data, fails the test.
"""

import numpy as np
import pytest

from generators.multimodal import MODALITIES, PRESETS, MultimodalConfig, MultimodalGenerator

DRAWS = 400
NAN, INF = float("nan"), float("inf")
# Bad values that no parameter accepts.
ALWAYS_BAD = [NAN, INF, -INF, "3", b"3", [3], object()]
BAD_INT = ALWAYS_BAD + [0, -1, 2.0, 2.5, True, None, 2**70, {"text": 3}]
BAD_CHOICE = ALWAYS_BAD + [None, 0, True, "", "Right", ("right",)]


def per_modality(draw):
    """A valid value for every modality: one value, or a dict with each modality."""
    return lambda rng: draw(rng) if rng.random() < 0.7 else {m: draw(rng) for m in MODALITIES}


def bad_per_modality(bad_values):
    """Bad per-modality values: a bad value, a dict missing a key or with an extra one,
    a dict with one bad value."""
    return bad_values + [{"text": 3}, {"text": 3, "audio": 3, "vision": 3, "video": 3},
                         {"text": 3, "audio": NAN, "vision": 3}]


def choice(values):
    return lambda rng: values[rng.integers(len(values))]


# field: (valid value from a Generator, bad values)
FIELDS = {
    "num_samples": (choice([None, 4, 9, 2**62]), BAD_INT),
    "seed": (choice([0, 7, 2**63, 2**64 - 1]), [v for v in BAD_INT if v != 0] + [2**64]),
    "text": (choice(["features", "tokens"]), BAD_CHOICE + ["Features"]),
    "text_dim": (lambda rng: int(rng.integers(1, 7)), BAD_INT + [10**9]),
    "audio_dim": (lambda rng: int(rng.integers(1, 7)), BAD_INT + [10**9]),
    "vision_dim": (lambda rng: int(rng.integers(1, 7)), BAD_INT + [10**9]),
    "vocab_size": (lambda rng: int(rng.integers(16, 200)), BAD_INT + [15, 2**40]),
    "min_length": (per_modality(lambda rng: int(rng.integers(1, 4))), bad_per_modality(BAD_INT)),
    "max_length": (per_modality(lambda rng: int(rng.integers(3, 7))),
                   bad_per_modality(BAD_INT + [10**9])),
    "aligned": (choice([True, False]), ALWAYS_BAD + [None, 0, 1, "True"]),
    "padding": (choice(["right", "left"]), BAD_CHOICE + ["rigth"]),
    "correlation_strength": (per_modality(lambda rng: float(rng.uniform(0, 1))),
                             bad_per_modality(ALWAYS_BAD + [None, True, -0.1, 1.5, 1e300])),
    "smoothing": (choice([1, 2, 5, 10**9]), BAD_INT + [2**31]),
    "noise_level": (choice([0, 0.5, 1.0, 3, 10**6]),
                    ALWAYS_BAD + [None, True, -0.5, 1e7, 1e300, {"text": 1.0}]),
    "num_classes": (choice([2, 3, 7]), BAD_INT + [5, 7.0]),
    "missing_rate": (choice([0.0, 0.3, 1.0, 0]), ALWAYS_BAD + [None, True, -0.1, 1.5]),
    "missing": (choice(["modality", "steps"]), BAD_CHOICE + ["step"]),
    "interaction": (choice(["redundant", "unique", "synergy"]), BAD_CHOICE + ["additive"]),
    "unique_modality": (choice(list(MODALITIES)), BAD_CHOICE + ["video"]),
    "synergy_modalities": (choice([("audio", "vision"), ["text", "audio"], ("vision", "text")]),
                           ALWAYS_BAD + [None, ("audio", "audio"), ("audio",), "av", 5,
                                         ("audio", "video"), {"audio", "vision"},
                                         (["audio"], "vision")]),
}
PRESET = (choice(sorted(PRESETS)), [3, "", "mosie", "MOSI", NAN])
BAD_FIELD_PROBABILITY = 0.08
SIZES = ("text_dim", "audio_dim", "vision_dim", "min_length", "max_length")


def draw_arguments(rng):
    """`(preset, fields, bad)`: the generator's arguments and the names of the bad ones."""
    preset, fields, bad = None, {}, set()
    if rng.random() < 0.15:
        valid, bad_values = PRESET
        if rng.random() < BAD_FIELD_PROBABILITY:
            preset = bad_values[rng.integers(len(bad_values))]
            bad.add("preset")
        else:
            preset = valid(rng)
    for name, (valid, bad_values) in FIELDS.items():
        if rng.random() < 0.4 and (preset is not None or name not in SIZES):
            continue  # the default (or the preset's); without a preset, sizes are small
        if rng.random() < BAD_FIELD_PROBABILITY:
            fields[name] = bad_values[rng.integers(len(bad_values))]
            bad.add(name)
        else:
            fields[name] = valid(rng)
    if rng.random() < 0.02:
        fields["nois_level"] = 1.0
        bad.add("nois_level")
    # Valid on their own, bad together: aligned data needs one max_length.
    defaults = dict(PRESETS.get(preset, {})) if isinstance(preset, str) else {}
    aligned = fields.get("aligned", defaults.get("aligned", False))
    max_length = fields.get("max_length", defaults.get("max_length"))
    if (aligned is True and isinstance(max_length, dict) and not bad & {"aligned", "max_length"}
            and len(set(max_length.values())) > 1):
        bad.add("max_length")
    return preset, fields, bad


def check_data(config, inputs, targets, count, lengths=None):
    """The documented shapes and dtypes, finite features, zero padding, targets in range."""
    for m in MODALITIES:
        low, high = config.lengths()[m]
        mask = inputs[f"{m}_mask"].numpy()
        values = inputs[m].numpy()
        steps = high if lengths is None else lengths[m]
        assert mask.dtype == bool and mask.shape[0] == count and mask.shape[1] <= steps, m
        if lengths is not None:
            assert mask.shape[1] == steps, m
        if m == "text" and config.text == "tokens":
            assert values.dtype == np.int32 and values.shape == mask.shape
            assert values.min(initial=0) >= 0 and values.max(initial=0) < config.vocab_size
        else:
            assert values.dtype == np.float32 and values.shape == mask.shape + (config.dims()[m],), m
            assert np.isfinite(values).all(), m
        assert not values[~mask].any(), m
        if config.missing_rate == 0 and lengths is None:
            assert (mask.sum(axis=1) >= low).all(), m
    regression = targets["regression"].numpy()
    assert regression.dtype == np.float32 and regression.shape == (count, 1)
    assert np.isfinite(regression).all() and np.abs(regression).max() <= 3
    classes = targets["classification"].numpy()
    assert classes.dtype == np.int32 and classes.shape == (count,)
    assert classes.min() >= 0 and classes.max() < config.num_classes


def named(error, bad):
    return any(name in str(error) for name in bad)


@pytest.mark.parametrize("seed", [0, 1])
def test_every_draw_gives_valid_data_or_an_error_naming_a_bad_parameter(seed):
    rng = np.random.default_rng(seed)
    outcomes = {"data": 0, "error": 0}
    for index in range(DRAWS // 2):
        preset, fields, bad = draw_arguments(rng)
        where = f"draw {index}: preset={preset!r}, fields={fields!r}, bad={sorted(bad)}"
        count = int(rng.integers(2, 5))
        try:
            generator = MultimodalGenerator(preset=preset, **fields)
            inputs, targets = generator.generate("train", 0, count)
        except (ValueError, TypeError) as error:
            assert bad, f"{where}: valid arguments raised {error!r}"
            assert named(error, bad), f"{where}: the message names no bad parameter: {error}"
            outcomes["error"] += 1
            continue
        assert not bad, f"{where}: bad arguments were accepted"
        check_data(generator.config, inputs, targets, count)
        outcomes["data"] += 1
    # Both kinds of outcome are common: the draws test something.
    assert min(outcomes.values()) > DRAWS // 10, outcomes


DATASET_ARGUMENTS = {
    "batch_size": (lambda rng: int(rng.integers(1, 5)), BAD_INT),
    "pad_to": (choice([None, 1, 4, 9, {"text": 2, "audio": 8, "vision": 5}]),
               bad_per_modality(BAD_INT + [10**9])),
}


def test_dataset_arguments_give_valid_batches_or_an_error_naming_them():
    rng = np.random.default_rng(2)
    generator = MultimodalGenerator(num_samples=6, text_dim=3, audio_dim=2, vision_dim=4,
                                    min_length=2, max_length={"text": 3, "audio": 6, "vision": 4},
                                    padding="left", missing_rate=0.2, missing="steps")
    for index in range(8):
        arguments, bad = {}, set()
        for name, (valid, bad_values) in DATASET_ARGUMENTS.items():
            if rng.random() < 0.3:
                arguments[name] = bad_values[rng.integers(len(bad_values))]
                bad.add(name)
            else:
                arguments[name] = valid(rng)
        where = f"draw {index}: {arguments!r}"
        try:
            inputs, targets = next(iter(generator.dataset("valid", **arguments)))
        except (ValueError, TypeError) as error:
            assert bad and named(error, bad), f"{where}: {error!r}"
            continue
        assert not bad, f"{where}: bad arguments were accepted"
        pad_to = arguments["pad_to"]
        lengths = None if pad_to is None else (
            pad_to if isinstance(pad_to, dict) else dict.fromkeys(MODALITIES, pad_to))
        check_data(generator.config, inputs, targets, min(arguments["batch_size"], 6), lengths)


def test_a_config_that_is_no_config_is_named():
    with pytest.raises(ValueError, match=r"`config` must be a MultimodalConfig; received config=\{"):
        MultimodalGenerator({"num_samples": 4})
    with pytest.raises(ValueError, match=r"Give a `config`, or a `preset`"):
        MultimodalGenerator(MultimodalConfig(), preset="")
