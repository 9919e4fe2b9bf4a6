import pickle

import numpy as np
import pytest
import tensorflow_datasets as tfds

from msa_tf.data import read_mmsa
from msa_tf.data.tfds_builders import ChSims, CmuMosei, CmuMosi, MMSABuilder, MMSAConfig

SIZES = {"train": 3, "valid": 2, "test": 2}


def make_file(path, steps, dims, *, side="right", bert=False, sims=False, mult=False, seed=0):
    """An MMSA feature pickle: `steps`/`dims` per modality, samples padded on `side`;
    `mult=True` uses the MulT release's keys: `labels` `(N, 1, 1)`, `(N, 3)` byte ids."""
    rng = np.random.default_rng(seed)
    data = {}
    for split, n in SIZES.items():
        arrays = {}
        for modality in ("text", "audio", "vision"):
            values = rng.normal(size=(n, steps[modality], dims[modality])) + 5.0
            for i in range(n):
                real = steps[modality] - i  # sample i has i padded steps
                if side == "right":
                    values[i, real:] = 0.0
                else:
                    values[i, :i] = 0.0
            arrays[modality] = values
        arrays["audio"][0, 0, 0] = -np.inf
        arrays["regression_labels"] = rng.uniform(-3, 3, size=n)
        arrays["classification_labels"] = np.arange(n) % 3
        arrays["id"] = np.array([f"{split}_{i}" for i in range(n)], dtype=object)
        arrays["raw_text"] = [f"text {i}" for i in range(n)]
        if bert:
            ids = np.zeros((n, 3, steps["text"]), np.int64)
            for i in range(n):
                ids[i, 0, : steps["text"] - i] = 100 + i
                ids[i, 1, : steps["text"] - i] = 1
            arrays["text_bert"] = ids
        if sims:
            for m in "TAV":
                arrays[f"regression_labels_{m}"] = rng.uniform(-1, 1, size=n)
        if mult:
            arrays["labels"] = arrays.pop("regression_labels").reshape(n, 1, 1)
            arrays["id"] = np.array([[b"vid", str(i).encode(), b"9"] for i in range(n)])
        data[split] = arrays
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        pickle.dump(data, file)
    return path


def prepare(builder, manual_dir):
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=str(manual_dir), try_download_gcs=False
        )
    )


def test_builder_writes_the_files_examples_with_a_public_config(tmp_path):
    steps = {"text": 50, "audio": 50, "vision": 50}
    dims = {"text": 768, "audio": 5, "vision": 20}
    path = make_file(tmp_path / "manual" / "aligned_50.pkl", steps, dims)
    builder = CmuMosi(config="aligned", data_dir=str(tmp_path / "data"))
    prepare(builder, tmp_path / "manual")

    assert {name: info.num_examples for name, info in builder.info.splits.items()} == {
        "train": 3, "validation": 2, "test": 2}
    expected = read_mmsa(path).split("valid")
    examples = list(tfds.as_numpy(builder.as_dataset(split="validation")))
    for i, example in enumerate(examples):  # example i is row i of the file's split
        for key in ("text", "audio", "vision"):
            np.testing.assert_array_equal(example["inputs"][key], expected[key][i])
            np.testing.assert_array_equal(example["inputs"][f"{key}_mask"],
                                          expected[f"{key}_mask"][i])
        assert example["inputs"]["audio_mask"].sum() == 50 - i
        np.testing.assert_array_equal(example["targets"]["regression"], expected["regression"][i])
        assert example["targets"]["classification"] == i % 3
        assert example["metadata"]["id"] == f"valid_{i}".encode()
    train = next(iter(tfds.as_numpy(builder.as_dataset(split="train"))))
    assert train["inputs"]["audio"][0, 0] == 0.0  # -inf in the file
    assert np.isfinite(train["inputs"]["audio"]).all()

    inputs, targets = next(iter(builder.as_dataset(split="train", as_supervised=True)))
    assert {k: (tuple(v.shape), v.dtype.name) for k, v in inputs.items()} == {
        "text": ((50, 768), "float32"), "text_mask": ((50,), "bool"),
        "audio": ((50, 5), "float32"), "audio_mask": ((50,), "bool"),
        "vision": ((50, 20), "float32"), "vision_mask": ((50,), "bool"),
    }
    assert {k: (tuple(v.shape), v.dtype.name) for k, v in targets.items()} == {
        "regression": ((1,), "float32"), "classification": ((), "int32")}


def test_config_for_a_small_left_padded_file_with_token_ids(tmp_path):
    steps = {"text": 4, "audio": 7, "vision": 3}
    dims = {"text": 6, "audio": 2, "vision": 5}
    path = make_file(tmp_path / "manual" / "sims_tiny.pkl", steps, dims, side="left",
                     bert=True, sims=True)
    config = MMSAConfig.for_file(path, name="tiny", text="bert_ids")
    assert (config.file_name, config.text_length, config.audio_length, config.vision_dim) == (
        "sims_tiny.pkl", 4, 7, 5)
    assert config.classification and config.unimodal_labels
    builder = ChSims(config=config, data_dir=str(tmp_path / "data"))
    prepare(builder, tmp_path / "manual")

    examples = list(tfds.as_numpy(builder.as_dataset(split="train")))
    assert len(examples) == 3
    third = examples[2]
    assert third["inputs"]["text"].tolist() == [102, 102, 0, 0]
    assert third["inputs"]["text_mask"].tolist() == [True, True, False, False]
    # Left padding in the file, right padding in the data set: real steps first.
    assert third["inputs"]["audio_mask"].tolist() == [True] * 5 + [False] * 2
    assert (third["inputs"]["audio"][:5] != 0).any(axis=1).all()
    assert not third["inputs"]["audio"][5:].any()
    assert third["metadata"]["regression_T"].shape == (1,)
    assert third["metadata"]["raw_text"] == b"text 2"


def test_mult_style_ids_are_joined_into_text(tmp_path):
    steps = {"text": 3, "audio": 4, "vision": 2}
    dims = {"text": 5, "audio": 2, "vision": 2}
    path = make_file(tmp_path / "manual" / "mult.pkl", steps, dims, side="left", mult=True)
    builder = CmuMosei(config=MMSAConfig.for_file(path, name="mult"),
                       data_dir=str(tmp_path / "data"))
    prepare(builder, tmp_path / "manual")
    ids = [e["metadata"]["id"] for e in tfds.as_numpy(builder.as_dataset(split="test"))]
    assert ids == [b"vid/0/9", b"vid/1/9"]


def test_public_configs_declare_the_public_shapes(tmp_path):
    builder = CmuMosei(config="unaligned", data_dir=str(tmp_path))
    inputs = builder.info.features["inputs"]
    assert inputs["audio"].shape == (500, 74) and inputs["vision"].shape == (500, 35)
    assert inputs["text"].shape == (50, 768)
    sims = ChSims(config="unaligned_bert_ids", data_dir=str(tmp_path)).info.features
    assert sims["inputs"]["text"].shape == (39,) and sims["inputs"]["text"].dtype == np.int32
    assert sims["inputs"]["vision"].shape == (55, 709)
    assert "regression_A" in sims["metadata"]
    mosi = CmuMosi(config="unaligned", data_dir=str(tmp_path)).info.features["inputs"]
    assert mosi["audio"].shape == (375, 5) and mosi["vision"].shape == (500, 20)


def test_builders_are_registered_and_the_base_is_not():
    registered = tfds.core.registered._DATASET_REGISTRY
    assert registered["cmu_mosi"] is CmuMosi
    assert registered["cmu_mosei"] is CmuMosei
    assert registered["ch_sims"] is ChSims
    assert MMSABuilder.name not in registered
    assert "aligned_50.pkl" in CmuMosi.MANUAL_DOWNLOAD_INSTRUCTIONS
    assert "unaligned_39.pkl" in ChSims.MANUAL_DOWNLOAD_INSTRUCTIONS


def test_a_file_with_other_shapes_names_the_key_and_the_fix(tmp_path):
    steps = {"text": 4, "audio": 6, "vision": 3}
    dims = {"text": 6, "audio": 2, "vision": 5}
    make_file(tmp_path / "manual" / "aligned_50.pkl", steps, dims)
    builder = CmuMosei(config="aligned", data_dir=str(tmp_path / "data"))
    with pytest.raises(ValueError, match=r"`train/text` .* has shape \(4, 6\) per example, but "
                                         r"builder config 'aligned' declares \(50, 768\).*"
                                         r"MMSAConfig.for_file"):
        prepare(builder, tmp_path / "manual")


def test_a_missing_file_in_manual_dir_is_named(tmp_path):
    (tmp_path / "manual").mkdir()
    (tmp_path / "manual" / "other.pkl").write_bytes(b"")
    builder = CmuMosi(config="unaligned", data_dir=str(tmp_path / "data"))
    with pytest.raises(ValueError, match=r"reads 'unaligned_50.pkl' from manual_dir, which "
                                         r"holds \['other.pkl'\]"):
        prepare(builder, tmp_path / "manual")


def test_config_text_kind_is_checked():
    with pytest.raises(ValueError, match=r"`text` must be one of 'features', 'bert_ids'"):
        MMSAConfig(name="x", text="glove")
