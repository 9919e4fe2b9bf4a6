"""Parses and cleans the MMSA / MulT feature files of CMU-MOSI, CMU-MOSEI and CH-SIMS.

The files. The MMSA framework (github.com/thuiar/MMSA) and the MulT release ship
each data set as one pickle: a dict with the splits `"train"`, `"valid"` and `"test"`,
each split a dict of arrays with one row per sample:

- `text`: float features `(N, L_t, 768)` and/or `text_bert`: `(N, 3, L_t)` BERT
  token ids, attention mask and segment ids.
- `audio` `(N, L_a, D_a)` and `vision` `(N, L_v, D_v)` float features.
- optional `audio_lengths`, `vision_lengths` (and `text_lengths`) `(N,)`: the real
  steps of each sample, padded on the right (absent in aligned files).
- `regression_labels` `(N,)` or `(N, 1)` (MulT's files call it `labels`, `(N, 1, 1)`);
  optional `classification_labels` `(N,)`, `id`, `raw_text`, `annotations`, and for
  CH-SIMS the unimodal labels `regression_labels_T`, `regression_labels_A`,
  `regression_labels_V`.

The same content saved with `numpy.savez` is read too. NPZ keys are
`"<split>/<key>"`, e.g. `"train/audio"`, `"valid/regression_labels"`,
`"test/text_bert"`; strings (`id`, `raw_text`) must be saved as NumPy unicode
arrays, since the archive is read with `allow_pickle=False`:

    np.savez(path, **{f"{split}/{key}": np.asarray(value)
                      for split, arrays in data.items()
                      for key, value in arrays.items()})

Safety. Files are read by `msa_tf.data.safe_pickle.safe_load`: no pickle can call
anything but NumPy's and builtin containers' constructors.

Cleaning (`read_mmsa`). Feature values that are `inf`, `-inf` or NaN (the public
MOSEI audio features hold `-inf`) become 0; they are counted after the cast to
float32 (so float64 values too large for float32 count too), the counts per split and
modality are in the report and a warning names them. Masks (`True` = real step):

- from `<modality>_lengths` when the split has them (right padding, as MMSA reads
  them); lengths above the number of steps are clipped to it, counted in the report
  and warned about;
- for BERT token ids, and for text features when the file also has `text_bert` with
  as many steps (BERT features are not zero at `[PAD]` tokens), from the attention
  mask (row 1 of `text_bert`);
- otherwise from the all-zero rows with `create_padding_mask`. The padding side is
  detected per file and modality, over the splits without lengths: for each sample
  with a non-zero step, the zero steps before its first non-zero step (leading) are
  compared with those after its last one (trailing); the sample votes "left" when
  leading > trailing, "right" when trailing > leading. The modality is left-padded
  when "left" has more votes, else right-padded (MMSA's convention wins ties).
  Older (MulT / CMU SDK) files are left-padded; MMSA files are right-padded.

Whatever side the file pads on, the arrays that `read_mmsa` returns are right-padded:
each sample's real steps are moved, in order, to the front, and every padded step
holds zeros. Labels pass through unchanged: regression labels as float32 `(N, 1)`,
classification labels as int32 `(N,)`.

Example:
>>> import os, pickle, tempfile
>>> rng = np.random.default_rng(0)
>>> def split(n):
...     return {"text": rng.normal(size=(n, 4, 8)), "audio": rng.normal(size=(n, 6, 3)),
...             "vision": np.pad(rng.normal(size=(n, 2, 2)), [(0, 0), (3, 0), (0, 0)]),
...             "audio_lengths": [6, 3][:n], "regression_labels": rng.normal(size=n)}
>>> tmp = tempfile.TemporaryDirectory()
>>> path = os.path.join(tmp.name, "aligned_50.pkl")
>>> with open(path, "wb") as f:
...     pickle.dump({"train": split(2), "valid": split(1), "test": split(1)}, f)
>>> features = read_mmsa(path)
>>> features.report["padding_side"]["vision"], features.report["splits"]["train"]["num_samples"]
('left', 2)
>>> features.split("train")["vision_mask"].astype(int).tolist()  # real steps moved to the front
[[1, 1, 0, 0, 0], [1, 1, 0, 0, 0]]
>>> features.split("train")["audio_mask"].sum(axis=1).tolist()
[6, 3]
>>> tmp.cleanup()
"""

import dataclasses
import logging

import numpy as np
from keras import ops

from msa_tf.data.safe_pickle import safe_load
from msa_tf.layers.masking import create_padding_mask
from msa_tf.modalities import MODALITIES
from msa_tf.validation import check_choice

logger = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
TEXT_KINDS = ("auto", "features", "bert_ids")
REQUIRED_KEYS = ("audio", "vision", "regression_labels")
UNIMODAL_LABELS = ("T", "A", "V")
# Per-sample keys passed through as they are (strings and annotations).
PASSTHROUGH_KEYS = ("id", "raw_text", "annotations")


@dataclasses.dataclass(frozen=True, eq=False)
class MMSAFeatures:
    """The cleaned arrays of an MMSA feature file and a report on them (see `read_mmsa`).

    Attributes:
        path: the file read.
        splits: `{"train": arrays, "valid": arrays, "test": arrays}`. `arrays` holds
            `audio`, `vision` (float32 `(N, L, D)`) with `audio_mask`, `vision_mask`
            (bool `(N, L)`), `text` (float32) and `text_mask` when the file has text
            features, `text_ids`, `text_ids_mask` and `text_segment_ids` (int32 / bool
            `(N, L_t)`) when it has `text_bert`, `regression` (float32 `(N, 1)`),
            `classification` (int32 `(N,)`) when present, `regression_T`,
            `regression_A`, `regression_V` for CH-SIMS, and `id`, `raw_text`,
            `annotations` as NumPy arrays when present. Sequences are right-padded with
            zeros.
        report: a dict: `path`, `format` (`"pickle"` or `"npz"`), `non_finite`
            (values replaced by 0, per modality over all splits), `padding_side` (the
            side detected per modality from zero rows, `"right"` where masks come from
            lengths or the attention mask), and `splits`: per split `num_samples`,
            `non_finite` per modality, `mask_source` per modality, `clipped_lengths`
            (lengths above the steps), and `lengths` per modality (`steps`, the array's
            time dimension, and `min`, `max`, `mean` real steps).
    """

    path: str
    splits: dict
    report: dict

    def split(self, name):
        """The arrays of split `name`; raises `ValueError` listing the splits otherwise."""
        check_choice("split", name, tuple(self.splits))
        return self.splits[name]


def read_mmsa(path):
    """Reads an MMSA feature pickle (or `.npz`) into cleaned NumPy arrays.

    See the module docstring for the file layout, the cleaning and the masks.

    Args:
        path: a `.pkl` (MMSA / MulT pickle) or `.npz` file (keys `"<split>/<key>"`).

    Returns:
        An `MMSAFeatures` with the arrays of every split and a report.

    Raises:
        UnsafePickleError: the pickle names a global other than NumPy's and builtin
            containers'.
        ValueError: the file is missing or unreadable, or a split, a required key or a
            shape is wrong; the message names the file, the key and what is accepted.
    """
    path, raw, file_format = safe_load(path)
    splits_raw = _check_splits(path, raw)
    report = {"path": path, "format": file_format, "non_finite": {}, "padding_side": {},
              "splits": {}}
    splits = {}
    nonzero = {}  # (split, modality) -> (N, L) bool, for padding-side detection
    for split in SPLITS:
        data = splits_raw[split]
        if "regression_labels" not in data and "labels" in data:  # MulT's name
            data = {**data, "regression_labels": data["labels"]}
        _check_keys(path, split, data)
        num_samples = _check_num_samples(path, split, data)
        arrays = {}
        split_report = {"num_samples": num_samples, "non_finite": {}, "mask_source": {},
                        "clipped_lengths": {}, "lengths": {}}
        for modality in MODALITIES:
            if modality not in data:
                continue
            values, count = _clean_features(path, split, modality, data[modality])
            arrays[modality] = values
            split_report["non_finite"][modality] = count
            lengths_key = f"{modality}_lengths"
            if lengths_key in data:
                lengths, clipped = _check_lengths(
                    path, split, lengths_key, data[lengths_key], values.shape[1]
                )
                mask = create_padding_mask(lengths=lengths, max_length=values.shape[1])
                arrays[f"{modality}_mask"] = ops.convert_to_numpy(mask).astype(bool)
                split_report["mask_source"][modality] = lengths_key
                split_report["clipped_lengths"][modality] = clipped
            elif modality == "text" and _bert_mask_fits(data, values):
                # BERT features are not zero at [PAD] tokens: the attention mask knows.
                arrays["text_mask"] = _as_integers(
                    path, split, "text_bert", data["text_bert"], np.int32
                )[:, 1] != 0
                split_report["mask_source"][modality] = "text_bert attention mask"
            else:
                nonzero[(split, modality)] = np.any(values != 0, axis=-1)
        if "text_bert" in data:
            arrays.update(_bert_ids(path, split, data["text_bert"]))
            split_report["mask_source"]["text_ids"] = "text_bert attention mask"
        arrays.update(_labels(path, split, data))
        for key in PASSTHROUGH_KEYS:
            if key in data:
                arrays[key] = np.asarray(data[key])
        splits[split] = arrays
        report["splits"][split] = split_report

    for modality in MODALITIES:
        found = [key for key in nonzero if key[1] == modality]
        side = _padding_side([nonzero[key] for key in found]) if found else "right"
        report["padding_side"][modality] = side
        for split, _ in found:
            mask = create_padding_mask(nonzero[(split, modality)].astype("int32"), padding=side)
            splits[split][f"{modality}_mask"] = ops.convert_to_numpy(mask).astype(bool)
            report["splits"][split]["mask_source"][modality] = f"zero rows ({side} padding)"

    for split, arrays in splits.items():
        split_report = report["splits"][split]
        for name in ("text", "audio", "vision", "text_ids"):
            if name not in arrays:
                continue
            mask_key = f"{name}_mask"
            extra = ("text_segment_ids",) if name == "text_ids" else ()
            moved = _right_align([arrays[name], *(arrays[key] for key in extra)], arrays[mask_key])
            arrays[name], *rest, arrays[mask_key] = moved
            arrays.update(zip(extra, rest))
            real = arrays[mask_key].sum(axis=1)
            split_report["lengths"][name] = {
                "steps": int(arrays[mask_key].shape[1]),
                "min": int(real.min()) if real.size else 0,
                "max": int(real.max()) if real.size else 0,
                "mean": float(real.mean()) if real.size else 0.0,
            }
    for modality in MODALITIES:
        counts = {s: r["non_finite"][modality] for s, r in report["splits"].items()
                  if modality in r["non_finite"]}
        if counts:
            report["non_finite"][modality] = sum(counts.values())
    _warn(report)
    return MMSAFeatures(path=path, splits=splits, report=report)


# --- reading ---------------------------------------------------------------------


def _check_splits(path, raw):
    if not isinstance(raw, dict):
        raise ValueError(
            f"an MMSA feature file must hold a dict of splits {SPLITS}; {path} holds a "
            f"{type(raw).__name__}"
        )
    missing = [split for split in SPLITS if split not in raw]
    if missing:
        raise ValueError(
            f"an MMSA feature file must have the splits {SPLITS}; {path} has no "
            f"{', '.join(repr(s) for s in missing)} (its keys: {sorted(map(str, raw))})"
        )
    for split in SPLITS:
        if not isinstance(raw[split], dict):
            raise ValueError(
                f"split {split!r} of {path} must be a dict of arrays; received a "
                f"{type(raw[split]).__name__}"
            )
    return raw


def _check_keys(path, split, data):
    needed = [repr(key) for key in REQUIRED_KEYS if key not in data]
    if "text" not in data and "text_bert" not in data:
        needed.insert(0, "'text' or 'text_bert'")
    if needed:
        raise ValueError(
            f"split {split!r} of {path} has no {', '.join(needed)} array; a split needs "
            "'text' or 'text_bert', 'audio', 'vision' and 'regression_labels' (or MulT's "
            f"'labels') (it has: {sorted(map(str, data))})"
        )


def _per_sample_keys(data):
    keys = ["regression_labels", "text", "text_bert", "audio", "vision", "classification_labels"]
    keys += [f"{m}_lengths" for m in MODALITIES]
    keys += [f"regression_labels_{m}" for m in UNIMODAL_LABELS]
    keys += list(PASSTHROUGH_KEYS)
    return [key for key in keys if key in data]


def _check_num_samples(path, split, data):
    reference = "regression_labels"
    counts = {}
    for key in _per_sample_keys(data):
        shape = np.shape(data[key])
        if not shape:
            raise ValueError(
                f"`{split}/{key}` of {path} must be an array with one row per sample; "
                f"received a scalar {data[key]!r}"
            )
        counts[key] = shape[0]
    for key, count in counts.items():
        if count != counts[reference]:
            raise ValueError(
                f"split {split!r} of {path}: `{key}` has {count} samples but `{reference}` "
                f"has {counts[reference]}; every array of a split needs the same first "
                "dimension"
            )
    return counts[reference]


def _clean_features(path, split, key, value):
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is counted below
            values = np.array(value, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"`{split}/{key}` of {path} must be a numeric array; it could not be read as "
            f"float32: {error}"
        ) from error
    if values.ndim != 3:
        raise ValueError(
            f"`{split}/{key}` of {path} must have shape (samples, steps, features); "
            f"received shape {values.shape}"
        )
    bad = ~np.isfinite(values)
    count = int(bad.sum())
    if count:
        values[bad] = 0.0
    return values, count


def _as_integers(path, split, key, value, dtype):
    array = np.asarray(value)
    integral_floats = array.dtype.kind == "f" and np.all(np.isfinite(array)) and not np.any(array % 1)
    if array.dtype.kind not in "iub" and not integral_floats:
        raise ValueError(
            f"`{split}/{key}` of {path} must hold integers; received dtype {array.dtype}"
            + (" with non-integral values" if array.dtype.kind == "f" else "")
        )
    return array.astype(dtype)


def _check_lengths(path, split, key, value, steps):
    lengths = _as_integers(path, split, key, value, np.int64)
    if lengths.ndim != 1:
        raise ValueError(
            f"`{split}/{key}` of {path} must have shape (samples,); received shape "
            f"{lengths.shape}"
        )
    if lengths.size and lengths.min() < 0:
        raise ValueError(
            f"`{split}/{key}` of {path} must hold lengths >= 0; received {int(lengths.min())}"
        )
    clipped = int(np.sum(lengths > steps))
    return np.minimum(lengths, steps), clipped


def _bert_mask_fits(data, text_features):
    """Whether the split's `text_bert` attention mask has one entry per text step."""
    bert = data.get("text_bert")
    shape = np.shape(bert) if bert is not None else ()
    return len(shape) == 3 and shape[1] == 3 and shape[2] == text_features.shape[1]


def _bert_ids(path, split, value):
    bert = _as_integers(path, split, "text_bert", value, np.int32)
    if bert.ndim != 3 or bert.shape[1] != 3:
        raise ValueError(
            f"`{split}/text_bert` of {path} must have shape (samples, 3, steps): token ids, "
            f"attention mask, segment ids; received shape {bert.shape}"
        )
    return {
        "text_ids": np.ascontiguousarray(bert[:, 0]),
        "text_ids_mask": bert[:, 1] != 0,
        "text_segment_ids": np.ascontiguousarray(bert[:, 2]),
    }


def _labels(path, split, data):
    labels = {}
    names = [("regression_labels", "regression")]
    names += [(f"regression_labels_{m}", f"regression_{m}") for m in UNIMODAL_LABELS]
    for key, name in names:
        if key not in data:
            continue
        value = np.asarray(data[key], dtype=np.float32)
        if value.ndim < 1 or value.size != len(value):
            raise ValueError(
                f"`{split}/{key}` of {path} must have shape (samples,) or (samples, 1) (or "
                f"MulT's (samples, 1, 1)); received shape {value.shape}"
            )
        value = value.reshape(-1, 1)
        labels[name] = value
    if "classification_labels" in data:
        value = _as_integers(path, split, "classification_labels",
                             data["classification_labels"], np.int32)
        if value.ndim == 2 and value.shape[1] == 1:
            value = value[:, 0]
        if value.ndim != 1:
            raise ValueError(
                f"`{split}/classification_labels` of {path} must have shape (samples,); "
                f"received shape {value.shape}"
            )
        labels["classification"] = value
    return labels


# --- masks and lengths -------------------------------------------------------------


def _padding_side(nonzero_rows):
    """`"left"` or `"right"`: the side most samples have more zero steps on."""
    votes = {"left": 0, "right": 0}
    for nonzero in nonzero_rows:
        has_real = nonzero.any(axis=1)
        leading = np.argmax(nonzero, axis=1)
        trailing = np.argmax(nonzero[:, ::-1], axis=1)
        votes["left"] += int(np.sum(has_real & (leading > trailing)))
        votes["right"] += int(np.sum(has_real & (trailing > leading)))
    return "left" if votes["left"] > votes["right"] else "right"


def _right_align(arrays, mask):
    """Moves each row's real steps (in order) to the front and zeroes the rest."""
    if mask.shape[1] > 1 and np.any(mask[:, 1:] & ~mask[:, :-1]):
        order = np.argsort(~mask, axis=1, kind="stable")
        arrays = [
            np.take_along_axis(a, order.reshape(order.shape + (1,) * (a.ndim - 2)), axis=1)
            for a in arrays
        ]
        mask = np.take_along_axis(mask, order, axis=1)
    padding = ~mask
    for array in arrays:
        array[padding] = 0
    return [*arrays, mask]


def _text_kind(path, data, text):
    """`"features"` or `"bert_ids"`: the text that `text` (one of `TEXT_KINDS`) reads from a split."""
    if text == "auto":
        return "features" if "text" in data else "bert_ids"
    needed = {"features": ("text", "text"), "bert_ids": ("text_ids", "text_bert")}
    key, file_key = needed[text]
    if key not in data:
        other = "bert_ids" if text == "features" else "features"
        raise ValueError(
            f"`text`={text!r} needs a {file_key!r} array, which {path} does not have; "
            f"use text={other!r}"
        )
    return text


def _warn(report):
    if report["non_finite"] and any(report["non_finite"].values()):
        parts = []
        for modality, total in report["non_finite"].items():
            per_split = ", ".join(
                f"{split} {r['non_finite'][modality]}" for split, r in report["splits"].items()
            )
            parts.append(f"{modality} {total} ({per_split})")
        logger.warning(
            "%s: replaced non-finite feature values (inf, -inf, NaN) with 0: %s",
            report["path"], "; ".join(parts),
        )
    for split, split_report in report["splits"].items():
        for modality, clipped in split_report["clipped_lengths"].items():
            if clipped:
                logger.warning(
                    "%s [%s]: %d values of %s_lengths exceed the %d steps of %s and were "
                    "clipped to it", report["path"], split, clipped, modality,
                    split_report["lengths"][modality]["steps"], modality,
                )
