"""`load_mmsa`: the `tf.data` pipeline over the MMSA / MulT feature files.

The files are read and cleaned by `read_mmsa` (`msa_tf.data.mmsa_features`: the file
layout, the cleaning, the masks; `msa_tf.data.safe_pickle`: the restricted unpickler).
Its arrays are right-padded: each sample's real steps come first.

Lengths (`load_mmsa(pad_to=...)`). `None` keeps each modality's number of steps in
the file; an int sets every modality, a dict `{"text": 50, "audio": 100}` the named
ones. Longer sequences get zero steps added at the end. Shorter ones are cut at the
end, and since real steps come first, a sample keeps its first `pad_to` real steps:
padding is always dropped before any real step is.

Example:
>>> import os, pickle, tempfile
>>> rng = np.random.default_rng(0)
>>> def split(n):
...     return {"text": rng.normal(size=(n, 4, 8)), "audio": rng.normal(size=(n, 6, 3)),
...             "vision": rng.normal(size=(n, 5, 2)), "audio_lengths": [6, 3][:n],
...             "vision_lengths": [2, 5][:n], "regression_labels": rng.normal(size=n),
...             "classification_labels": np.array([0.0, 2.0][:n])}
>>> tmp = tempfile.TemporaryDirectory()
>>> path = os.path.join(tmp.name, "aligned_50.pkl")
>>> with open(path, "wb") as f:
...     pickle.dump({"train": split(2), "valid": split(1), "test": split(1)}, f)
>>> inputs, targets = next(iter(load_mmsa(path, "train", batch_size=2, pad_to={"audio": 4})))
>>> {k: tuple(v.shape) for k, v in sorted(inputs.items())}  # doctest: +NORMALIZE_WHITESPACE
{'audio': (2, 4, 3), 'audio_mask': (2, 4), 'text': (2, 4, 8), 'text_mask': (2, 4),
 'vision': (2, 5, 2), 'vision_mask': (2, 5)}
>>> inputs["vision_mask"].numpy().astype(int).tolist()
[[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]]
>>> targets["regression"].dtype.name, targets["classification"].numpy().tolist()
('float32', [0, 2])
>>> read_mmsa(path).report["splits"]["train"]["num_samples"]
2
>>> tmp.cleanup()
"""

import logging
import numbers

import numpy as np
import tensorflow as tf

from generators.padding import fit_lengths
from msa_tf.data.mmsa_features import SPLITS, TEXT_KINDS, MMSAFeatures, _text_kind, read_mmsa
from msa_tf.modalities import MODALITIES
from msa_tf.validation import check_choice, check_positive_int

logger = logging.getLogger(__name__)


def load_mmsa(path, split, batch_size, pad_to=None, shuffle=False, seed=0,
              drop_remainder=False, *, text="auto"):
    """A `tf.data.Dataset` of `(inputs, targets)` batches from an MMSA feature file.

    The element structure is the project's (the synthetic generators yield the same):
    `inputs` holds `text` (float32 `(batch, L_t, D_t)` features, or int32 `(batch, L_t)`
    BERT token ids), `audio` float32 `(batch, L_a, D_a)`, `vision` float32
    `(batch, L_v, D_v)` and `text_mask`, `audio_mask`, `vision_mask` bool
    `(batch, L)`, `True` = real step; `targets` holds `regression` float32
    `(batch, 1)` and, when the file has classification labels, `classification` int32
    `(batch,)`. Sequences are right-padded with zeros (see the module docstring).

    The arrays are prepared once (read, cleaned, fit to `pad_to` with
    `generators.padding.fit_lengths`). The pipeline shuffles sample indices (so the
    shuffle buffer holds indices, not features), batches them, gathers each batch with
    one vectorised `tf.gather`, and prefetches last.

    Args:
        path: an MMSA `.pkl` or `.npz` file, or the `MMSAFeatures` that `read_mmsa`
            returned (to read a file once for several splits).
        split: `"train"`, `"valid"` or `"test"`.
        batch_size: samples per batch, a positive int.
        pad_to: `None` keeps the file's steps per modality; a positive int pads (zeros
            at the end) or cuts every modality to that many steps; a dict such as
            `{"text": 50, "audio": 100}` does so per named modality. Cutting keeps the
            first real steps (padding goes first). Every shape is static either way.
        shuffle: shuffle the samples, reshuffling each epoch.
        seed: the shuffle seed (an int); the same seed gives the same orders.
        drop_remainder: drop a last, smaller batch, making the batch dimension static.
        text: `"auto"` (features when the file has `text`, else BERT ids),
            `"features"` or `"bert_ids"` (the token ids of `text_bert`).

    Returns:
        A `tf.data.Dataset` of `(inputs, targets)`.
    """
    batch_size = check_positive_int("batch_size", batch_size)
    lengths = check_lengths(pad_to)
    check_choice("text", text, TEXT_KINDS)
    check_choice("split", split, SPLITS)
    for name, value in (("shuffle", shuffle), ("drop_remainder", drop_remainder)):
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"`{name}` must be True or False; received {name}={value!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"`seed` must be an integer; received seed={seed!r}")

    features = path if isinstance(path, MMSAFeatures) else read_mmsa(path)
    data = features.split(split)
    source = "text_ids" if _text_kind(features.path, data, text) == "bert_ids" else "text"
    inputs = {
        "text": data[source],
        "text_mask": data[f"{source}_mask"],
        "audio": data["audio"],
        "audio_mask": data["audio_mask"],
        "vision": data["vision"],
        "vision_mask": data["vision_mask"],
    }
    for modality, length in lengths.items():
        dropped = int(inputs[f"{modality}_mask"][:, length:].sum())
        if dropped:
            logger.info("%s [%s]: pad_to=%d dropped %d real %s steps",
                        features.path, split, length, dropped, modality)
    inputs = fit_lengths(inputs, lengths)
    targets = {"regression": data["regression"]}
    if "classification" in data:
        targets["classification"] = data["classification"]

    tensors = tf.nest.map_structure(tf.convert_to_tensor, (inputs, targets))
    num_samples = len(targets["regression"])

    def gather(indices):
        return tf.nest.map_structure(lambda t: tf.gather(t, indices), tensors)

    dataset = tf.data.Dataset.range(num_samples)
    if shuffle:
        dataset = dataset.shuffle(
            max(num_samples, 1), seed=int(seed), reshuffle_each_iteration=True
        )
    dataset = dataset.batch(batch_size, drop_remainder=bool(drop_remainder))
    dataset = dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def check_lengths(lengths, argument="pad_to"):
    """`{modality: steps}` for the modalities that `lengths` fixes, checked.

    `lengths` is `None` (none), one positive int (every modality) or a dict
    `{modality: positive int}`; otherwise `ValueError` names `argument` and the value.

    >>> check_lengths(8), check_lengths({"audio": 3}), check_lengths(None)
    ({'text': 8, 'audio': 8, 'vision': 8}, {'audio': 3}, {})
    """
    if lengths is None:
        return {}
    if isinstance(lengths, dict):
        unknown = sorted(str(key) for key in lengths if key not in MODALITIES)
        if unknown:
            raise ValueError(
                f"`{argument}` keys must be among {MODALITIES}; received {argument}={lengths!r} "
                f"with unknown key(s) {', '.join(repr(k) for k in unknown)}"
            )
        return {m: check_positive_int(f"{argument}[{m!r}]", lengths[m])
                for m in MODALITIES if m in lengths}
    if isinstance(lengths, bool) or not isinstance(lengths, numbers.Integral) or lengths < 1:
        raise ValueError(
            f"`{argument}` must be None, a positive integer or a dict {{modality: positive integer}} "
            f"with modalities among {MODALITIES}; received {argument}={lengths!r}"
        )
    return {m: int(lengths) for m in MODALITIES}
