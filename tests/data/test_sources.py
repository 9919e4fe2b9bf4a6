import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf
from test_mmsa import make_file, write_pickle
from test_tfds_builders import make_file as make_builder_file

from generators import MultimodalConfig, MultimodalGenerator, write_shards
from msa_tf import models
from msa_tf.data import read_mmsa, sources
from msa_tf.data.sources import (
    DataSource,
    MultimodalSource,
    get_source,
    register_source,
    source_arguments,
    source_class,
    source_names,
)

MODALITIES = ("text", "audio", "vision")
# A small generator with a different length per modality.
GENERATOR = dict(num_samples=10, seed=3, text_dim=6, audio_dim=4, vision_dim=3, min_length=2,
                 max_length={"text": 5, "audio": 7, "vision": 4})
KINDS = ("synthetic", "synthetic_tokens", "shards", "mmsa", "mmsa_bert_ids", "tfds")


def make_source(kind, directory):
    """A small source of each kind; files and folders go into `directory`."""
    if kind == "synthetic":
        return get_source("synthetic", **GENERATOR)
    if kind == "synthetic_tokens":
        return get_source("synthetic", **GENERATOR, text="tokens", vocab_size=40)
    if kind == "shards":
        write_shards(MultimodalGenerator(**GENERATOR), str(directory), num_shards=2, progress=False)
        return get_source("shards", path=str(directory))
    if kind == "mmsa":
        return get_source("mmsa", path=write_pickle(directory, make_file()[0], "mosei_aligned.pkl"))
    if kind == "mmsa_bert_ids":
        path = write_pickle(directory, make_file(bert=True)[0])
        return get_source("mmsa", path=path, text="bert_ids")
    return get_source("tfds", name="synthetic_multimodal/tiny", data_dir=str(directory))


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """`made(kind)`: the module's source of that kind, made once (TFDS prepares once)."""
    cache = {}

    def get(kind):
        if kind not in cache:
            cache[kind] = make_source(kind, tmp_path_factory.mktemp(kind))
        return cache[kind]

    return get


@pytest.fixture(params=KINDS)
def source(request, made):
    return made(request.param)


def as_numpy(dataset):
    return [tf.nest.map_structure(lambda t: t.numpy(), batch) for batch in dataset]


def assert_same_batches(first, second):
    first, second = as_numpy(first), as_numpy(second)
    assert len(first) == len(second)
    for one, other in zip(first, second):
        tf.nest.map_structure(np.testing.assert_array_equal, one, other)


def spec_of(specs):
    """`{name: (shape without batch, dtype name)}` of a dict of `tf.TensorSpec`s."""
    return {name: (tuple(spec.shape[1:]), spec.dtype.name) for name, spec in specs.items()}


# --- the element structure -----------------------------------------------------------


@pytest.mark.parametrize("lengths", [None, 3, {"text": 8, "vision": 2}])
def test_batches_have_the_element_structure_at_fixed_lengths(source, lengths):
    expected = dict(source.max_lengths())
    if isinstance(lengths, int):
        expected = dict.fromkeys(MODALITIES, lengths)
    elif lengths:
        expected.update(lengths)
    dataset = source.dataset("train", 4, lengths=lengths)
    inputs_spec, targets_spec = dataset.element_spec

    spec = source.input_spec(lengths)
    assert spec_of(inputs_spec) == spec
    assert set(spec) == {*MODALITIES, *(f"{m}_mask" for m in MODALITIES)}
    for m in MODALITIES:
        assert spec[m][0][0] == spec[f"{m}_mask"][0][0] == expected[m]
        assert spec[f"{m}_mask"][1] == "bool"
        assert spec[m][1] == ("int32" if len(spec[m][0]) == 1 else "float32")
    wanted_targets = {"regression": ((1,), "float32")}
    if source.num_classes() is not None:
        wanted_targets["classification"] = ((), "int32")
    assert spec_of(targets_spec) == wanted_targets

    inputs, targets = next(iter(dataset))
    assert {k: (tuple(v.shape[1:]), v.dtype.name) for k, v in inputs.items()} == spec
    for m in MODALITIES:
        values, mask = inputs[m].numpy(), inputs[f"{m}_mask"].numpy()
        assert mask.any() and not values[~mask].any(), f"{m}: padded steps must hold zeros"


def test_max_lengths_are_the_longest_sequences(made):
    assert made("synthetic").max_lengths() == GENERATOR["max_length"]
    assert made("shards").max_lengths() == GENERATOR["max_length"]
    assert made("mmsa").max_lengths() == {"text": 4, "audio": 6, "vision": 5}
    assert made("tfds").max_lengths() == {"text": 6, "audio": 6, "vision": 6}


def test_drop_remainder_gives_a_static_batch_dimension(source):
    dataset = source.dataset("train", 4, drop_remainder=True)
    assert {spec.shape[0] for spec in tf.nest.flatten(dataset.element_spec)} == {4}
    total = sum(len(targets["regression"]) for _, targets in source.dataset("train", 4))
    sizes = [len(targets["regression"]) for _, targets in dataset]
    assert sizes == [4] * (total // 4)


def test_model_arguments_build_a_model_that_runs_on_a_batch(source):
    lengths = {"audio": 9}
    arguments = source.model_arguments(lengths)
    spec = source.input_spec(lengths)
    assert arguments["seq_len"] == {m: spec[m][0][0] for m in MODALITIES}
    assert (arguments["audio_dim"], arguments["vision_dim"]) == (spec["audio"][0][1],
                                                                 spec["vision"][0][1])
    inputs, targets = next(iter(source.dataset("test", 2, lengths=lengths)))
    if spec["text"][1] == "int32":
        assert "text_dim" not in arguments
        assert arguments["text_vocab_size"] > int(tf.reduce_max(inputs["text"]))
    else:
        assert arguments["text_dim"] == spec["text"][0][1]
        assert arguments["text_vocab_size"] is None

    num_classes = source.num_classes()
    model = models.get("msa_seqlevel", **arguments, model_dim=8, num_heads=2, ff_dim=8,
                       num_layers=1, num_cross_layers=1, num_classes=num_classes)
    outputs = model(inputs)
    assert tuple(outputs["regression"].shape) == (2, 1)
    if num_classes is not None:
        assert tuple(outputs["classification"].shape) == (2, num_classes)
        assert int(tf.reduce_max(targets["classification"])) < num_classes


def test_seq_len_is_one_int_when_every_length_is_the_same(made):
    assert made("synthetic").model_arguments(lengths=5)["seq_len"] == 5
    assert made("tfds").model_arguments()["seq_len"] == 6


def test_text_vocab_size_and_num_classes(made):
    assert made("synthetic_tokens").model_arguments()["text_vocab_size"] == 40
    # BERT ids of a file: BERT's vocabulary, as its largest id + 1 is smaller.
    assert made("mmsa_bert_ids").model_arguments()["text_vocab_size"] == 30522
    assert made("synthetic").num_classes() == 7
    assert made("mmsa").num_classes() == 3
    assert made("tfds").num_classes() == 7


# --- the sources agree with their readers ----------------------------------------------


def test_shards_give_the_synthetic_tensors(made):
    for split in ("train", "valid"):
        lengths = {"text": 3, "audio": 9}
        assert_same_batches(made("synthetic").dataset(split, 4, lengths=lengths),
                            made("shards").dataset(split, 4, lengths=lengths))


def test_tfds_gives_the_generator_tensors(made):
    from generators.tfds_synthetic import SyntheticMultimodal

    fields = SyntheticMultimodal.builder_configs["tiny"].generator_fields
    synthetic = get_source("synthetic", **fields, num_samples=16)
    lengths = {"text": 4, "audio": 8}
    assert_same_batches(synthetic.dataset("valid", 5, lengths=lengths),
                        made("tfds").dataset("valid", 5, lengths=lengths))


def test_tfds_reads_an_mmsa_builder_from_its_manual_dir(tmp_path):
    path = make_builder_file(tmp_path / "manual" / "aligned_50.pkl",
                             {"text": 50, "audio": 50, "vision": 50},
                             {"text": 768, "audio": 5, "vision": 20}, bert=True)
    source = get_source("tfds", name="cmu_mosi/aligned_bert_ids", data_dir=str(tmp_path / "data"),
                        manual_dir=str(tmp_path / "manual"))
    inputs, targets = as_numpy(source.dataset("valid", 8, lengths=4))[0]
    want = read_mmsa(path).split("valid")  # TFDS's `validation` is the file's `valid`
    assert set(targets) == {"regression", "classification"}  # `metadata` is dropped
    np.testing.assert_array_equal(inputs["text"], want["text_ids"][:, :4])
    np.testing.assert_array_equal(inputs["audio_mask"], want["audio_mask"][:, :4])
    np.testing.assert_array_equal(targets["regression"], want["regression"])
    arguments = source.model_arguments()
    assert arguments["text_vocab_size"] == 30522 and "text_dim" not in arguments
    assert source.num_classes() == 3
    assert source.origin == source.name and source.default_task == "sentiment"


def test_tfds_shuffles_the_examples(made):
    source = made("tfds")
    plain = as_numpy(source.dataset("train", 64))[0][1]["regression"]
    shuffled = source.dataset("train", 64, shuffle=True, seed=1)
    first, second = (as_numpy(shuffled)[0][1]["regression"] for _ in range(2))
    assert not np.array_equal(first, plain) and not np.array_equal(first, second)
    np.testing.assert_array_equal(np.sort(first, axis=0), np.sort(plain, axis=0))


def test_generated_sources_ignore_shuffle(made):
    for kind in ("synthetic", "shards"):
        source = made(kind)
        assert_same_batches(source.dataset("train", 4), source.dataset("train", 4, shuffle=True))


def test_mmsa_reads_its_file_once_on_first_use_and_shuffles(tmp_path, monkeypatch):
    calls = []

    def counting_read(path):
        calls.append(path)
        return read_mmsa(path)

    monkeypatch.setattr(sources, "read_mmsa", counting_read)
    data, _ = make_file()
    source = get_source("mmsa", path=write_pickle(tmp_path, data))
    assert calls == []

    plain = as_numpy(source.dataset("train", 64))[0][1]["regression"][:, 0]
    np.testing.assert_allclose(plain, data["train"]["regression_labels"], rtol=1e-6)
    shuffled = source.dataset("train", 64, shuffle=True, seed=1)
    first, second = (as_numpy(shuffled)[0][1]["regression"][:, 0] for _ in range(2))
    assert not np.array_equal(first, plain) and not np.array_equal(first, second)
    np.testing.assert_array_equal(np.sort(first), np.sort(plain))
    source.dataset("test", 2)
    source.max_lengths()
    assert len(calls) == 1


# --- the registry and errors --------------------------------------------------------------


def test_every_source_lists_its_arguments():
    assert {"mmsa", "shards", "synthetic", "tfds"} <= set(source_names())
    assert source_names() == sorted(source_names())
    fields = tuple(field.name for field in dataclasses.fields(MultimodalConfig))
    assert source_arguments("synthetic") == ("preset", *fields)
    assert source_arguments("shards") == ("path",)
    assert source_arguments("mmsa") == ("path", "text")
    assert source_arguments("tfds") == ("name", "data_dir", "manual_dir")
    assert source_class("mmsa").registry_name == "mmsa"


def test_register_source_takes_the_init_arguments(monkeypatch):
    monkeypatch.setattr(sources._SOURCES, "_classes", dict(sources._SOURCES._classes))

    @register_source("constant")
    class Constant(MultimodalSource):
        """One example per split whose every feature is `value * scale`."""

        def __init__(self, value, *, scale=1.0):
            self.value = value * scale

        def max_lengths(self):
            return dict.fromkeys(MODALITIES, 1)

        def num_classes(self):
            return None

        def _dims(self):
            return dict.fromkeys(MODALITIES, 1)

        def _text_vocab_size(self):
            return None

        def _batches(self, split, batch_size, lengths, shuffle, seed, drop_remainder):
            inputs = {m: tf.fill((1, lengths[m], 1), self.value) for m in MODALITIES}
            inputs.update({f"{m}_mask": tf.ones((1, lengths[m]), tf.bool) for m in MODALITIES})
            return tf.data.Dataset.from_tensors((inputs, {"regression": [[self.value]]}))

    assert source_arguments("constant") == ("value", "scale")
    constant = get_source("constant", value=2, scale=3.0)
    inputs, _ = next(iter(constant.dataset("test", batch_size=1, lengths=2)))
    assert inputs["audio"].shape == (1, 2, 1) and float(inputs["audio"][0, 0, 0]) == 6.0
    with pytest.raises(TypeError, match="abstract"):
        type("Incomplete", (DataSource,), {})()
    with pytest.raises(ValueError, match="named 'constant' is registered already"):
        register_source("constant")(type("Other", (DataSource,), {}))


@pytest.mark.parametrize("name, arguments, match", [
    ("synthetc", {}, r"source='synthetc' \(did you mean 'synthetic'\?\)"),
    ("synthetic", {"nm_samples": 3},
     r"data source 'synthetic' takes no argument 'nm_samples' \(did you mean 'num_samples'"),
    ("synthetic", {"num_samples": 0}, r"`num_samples` .*num_samples=0"),
    ("synthetic", {"interaction": "synergie"}, r"`interaction` .*interaction='synergie'"),
    ("synthetic", {"preset": "mosie"}, r"`preset` .*preset='mosie'"),
    ("mmsa", {}, r"data source 'mmsa' needs the argument 'path'"),
    ("mmsa", {"path": "/nonexistent/mosi.pkl"},
     r"`path` .*path='/nonexistent/mosi.pkl', which does not exist"),
    ("mmsa", {"path": __file__, "text": "tokens"}, r"`text` .*text='tokens'"),
    ("shards", {"path": "/nonexistent/shards"},
     r"`path` .*path='/nonexistent/shards', which is not a folder"),
    ("shards", {"path": os.path.dirname(__file__)}, r"`path` .*which has no metadata.json"),
    ("tfds", {"name": "synthetic_multimodl"},
     r"`name` .*name='synthetic_multimodl'.*Did you mean: .*synthetic_multimodal"),
])
def test_bad_sources_raise_value_errors_naming_the_argument(name, arguments, match):
    with pytest.raises(ValueError, match=match):
        get_source(name, **arguments)


@pytest.mark.parametrize("arguments, match", [
    ({"split": "validation"}, r"split='validation' \(did you mean 'valid'\?\)"),
    ({"batch_size": 0}, r"batch_size=0"),
    ({"lengths": 0}, r"lengths=0"),
    ({"lengths": {"txt": 3}}, r"`lengths` .*unknown key\(s\) 'txt'"),
    ({"lengths": {"text": -1}}, r"lengths\['text'\]=-1"),
])
def test_bad_dataset_arguments_raise_value_errors(made, arguments, match):
    arguments = {"split": "train", "batch_size": 4, **arguments}
    with pytest.raises(ValueError, match=match):
        made("synthetic").dataset(**arguments)


# --- what tasks read -------------------------------------------------------------------------


@pytest.mark.parametrize("name, arguments, origin", [
    ("synthetic", {"preset": "mosei", "num_samples": 4}, "mosei"),
    ("synthetic", {"num_samples": 4}, ""),
])
def test_every_source_says_where_its_data_come_from_and_which_task_they_are_for(name, arguments, origin):
    source = get_source(name, **arguments)
    assert source.origin == origin and source.default_task == "sentiment"


def test_mmsa_origin_is_its_path(tmp_path):
    from msa_tf.tasks.sentiment import infer_dataset

    path = write_pickle(tmp_path, make_file()[0], "sims_unaligned.pkl")
    assert get_source("mmsa", path=path).origin == str(path)
    assert infer_dataset(path) == "sims"


def test_the_data_layer_and_the_metrics_and_tasks_do_not_import_each_other():
    import pathlib
    import re

    def imports(folder, packages):
        pattern = rf"^\s*(from|import) msa_tf\.({'|'.join(packages)})\b"
        return [module.name for module in (package / folder).glob("*.py")
                if re.search(pattern, module.read_text(), re.MULTILINE)]

    package = pathlib.Path(sources.__file__).parents[1]
    assert imports("data", ["metrics", "tasks"]) == []
    assert imports("metrics", ["data"]) == [] and imports("tasks", ["data"]) == []
