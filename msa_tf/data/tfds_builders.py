"""TFDS builders for the MMSA feature files: `cmu_mosi`, `cmu_mosei` and `ch_sims`.

Each builder reads one MMSA feature pickle (or the same content as `.npz`, see
`msa_tf.data.mmsa_features`) that the user puts in TFDS's manual directory, with the project's
reader `read_mmsa` (restricted unpickler, non-finite values set to 0, masks, right
padding), and writes TFRecord shards. Import this module to register the builders:

    import msa_tf.data.tfds_builders  # registers cmu_mosi, cmu_mosei, ch_sims
    data = tfds.load("cmu_mosei/unaligned", split="train", as_supervised=True,
                     download_and_prepare_kwargs={"download_config":
                         tfds.download.DownloadConfig(manual_dir="/data/MMSA/MOSEI/Processed")})

An example is `{"inputs": ..., "targets": ..., "metadata": ...}`; `as_supervised=True`
gives the project's `(inputs, targets)` structure: `inputs` with `text`, `audio`,
`vision` and their bool masks (`True` = real step), `targets` with `regression`
float32 `(1,)` and, where the config has them, `classification` int32. `metadata`
holds the sample `id`, `raw_text` and, for CH-SIMS, the unimodal labels
`regression_T`, `regression_A`, `regression_V`. Example `i` of a split is row `i` of
the file's split (`validation` is the file's `valid`).

Configs. `aligned` / `unaligned` read MMSA's `aligned_50.pkl` / `unaligned_50.pkl`
(`unaligned_39.pkl` for CH-SIMS) with text features; the `*_bert_ids` configs store the
BERT token ids of `text_bert` as `text` instead. Every feature has a fixed shape per
config (the public files' shapes). A file with other shapes (for example the MulT
release) needs its own config, which `MMSAConfig.for_file` makes from the file:

    config = MMSAConfig.for_file("/data/mult/mosei_senti_data_noalign.pkl", name="mult")
    builder = CmuMosei(config=config)
"""

import abc
import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds

from msa_tf.data.mmsa_features import UNIMODAL_LABELS, _text_kind, read_mmsa
from msa_tf.validation import check_choice

# TFDS split name -> the file's split name.
SPLITS = {"train": "train", "validation": "valid", "test": "test"}
TEXT_KINDS = ("features", "bert_ids")

_INSTRUCTIONS = """\
Download the processed {title} features of the MMSA framework (the "Dataset"
links in the README of https://github.com/thuiar/MMSA: Google Drive or Baidu
Netdisk). From its `{folder}/Processed/` folder, copy into `manual_dir`:
{files}
`manual_dir` is `~/tensorflow_datasets/downloads/manual/` unless you pass
`tfds.download.DownloadConfig(manual_dir=...)`. The same content saved as `.npz`
(keys `"<split>/<key>"`) under the config's file name works too.
"""


@dataclasses.dataclass(eq=False)
class MMSAConfig(tfds.core.BuilderConfig):
    """A builder config: the file to read and the shape of every feature.

    Attributes:
        file_name: the file in `manual_dir` (`.pkl` or `.npz`).
        text: `"features"` (float32 `(text_length, text_dim)`) or `"bert_ids"` (the
            int32 `(text_length,)` token ids of `text_bert`).
        text_length, text_dim, audio_length, audio_dim, vision_length, vision_dim:
            steps and feature sizes (`text_dim` is unused with `"bert_ids"`).
        classification: whether the file has `classification_labels`.
        unimodal_labels: whether it has CH-SIMS's `regression_labels_T/A/V`.
    """

    file_name: str = "aligned_50.pkl"
    text: str = "features"
    text_length: int = 50
    text_dim: int = 768
    audio_length: int = 50
    audio_dim: int = 5
    vision_length: int = 50
    vision_dim: int = 20
    classification: bool = True
    unimodal_labels: bool = False

    def __post_init__(self):
        check_choice("text", self.text, TEXT_KINDS)

    def shapes(self):
        """`{feature: shape}` of one example's inputs, as `_info()` declares them."""
        text = (self.text_length,) if self.text == "bert_ids" else (
            self.text_length, self.text_dim)
        return {
            "text": text,
            "audio": (self.audio_length, self.audio_dim),
            "vision": (self.vision_length, self.vision_dim),
        }

    @classmethod
    def for_file(cls, path, name="custom", text="features", **kwargs):
        """A config whose shapes and labels are those of the MMSA file at `path`.

        The file is read with `read_mmsa` (its `train` split gives the shapes); the
        builder reads `os.path.basename(path)` from its `manual_dir`. `kwargs` go to
        the config (e.g. `description`).
        """
        check_choice("text", text, TEXT_KINDS)
        path = os.path.expanduser(os.fspath(path))
        train = read_mmsa(path).split("train")
        _text_kind(path, train, text)  # raises when the file lacks that text
        text_shape = train["text_ids" if text == "bert_ids" else "text"].shape
        return cls(
            name=name,
            file_name=os.path.basename(path),
            text=text,
            text_length=text_shape[1],
            text_dim=text_shape[2] if text == "features" else 0,
            audio_length=train["audio"].shape[1],
            audio_dim=train["audio"].shape[2],
            vision_length=train["vision"].shape[1],
            vision_dim=train["vision"].shape[2],
            classification="classification" in train,
            unimodal_labels=all(f"regression_{m}" in train for m in UNIMODAL_LABELS),
            **kwargs,
        )


def _configs(file_names, shapes, **fields):
    """The `aligned`/`unaligned` configs (and their `_bert_ids` variants)."""
    configs = []
    for name, file_name in file_names.items():
        (text_length, text_dim), audio, vision = shapes[name]
        for text in TEXT_KINDS:
            configs.append(MMSAConfig(
                name=name if text == "features" else f"{name}_bert_ids",
                description=f"MMSA's {file_name}, text as {text.replace('_', ' ')}.",
                file_name=file_name,
                text=text,
                text_length=text_length,
                text_dim=text_dim,
                audio_length=audio[0],
                audio_dim=audio[1],
                vision_length=vision[0],
                vision_dim=vision[1],
                **fields,
            ))
    return configs


def _instructions(title, folder, file_names):
    files = "\n".join(
        f"- `{file}` for the configs `{name}` and `{name}_bert_ids`"
        for name, file in file_names.items()
    )
    return _INSTRUCTIONS.format(title=title, folder=folder, files=files)


class MMSABuilder(tfds.core.GeneratorBasedBuilder):
    """The shared builder: reads `builder_config.file_name` from `manual_dir`.

    Subclasses set `BUILDER_CONFIGS`, `MANUAL_DOWNLOAD_INSTRUCTIONS` and `_about()`.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}

    @abc.abstractmethod
    def _about(self):
        """Returns `(description, homepage, citation)` of the data set."""

    def _info(self):
        config = self.builder_config
        shapes = config.shapes()
        text_dtype = np.int32 if config.text == "bert_ids" else np.float32
        inputs = {}
        for modality, shape in shapes.items():
            dtype = text_dtype if modality == "text" else np.float32
            inputs[modality] = tfds.features.Tensor(shape=shape, dtype=dtype)
            inputs[f"{modality}_mask"] = tfds.features.Tensor(shape=shape[:1], dtype=np.bool_)
        targets = {"regression": tfds.features.Tensor(shape=(1,), dtype=np.float32)}
        if config.classification:
            targets["classification"] = tfds.features.Tensor(shape=(), dtype=np.int32)
        metadata = {"id": tfds.features.Text(), "raw_text": tfds.features.Text()}
        if config.unimodal_labels:
            for m in UNIMODAL_LABELS:
                metadata[f"regression_{m}"] = tfds.features.Tensor(shape=(1,), dtype=np.float32)
        description, homepage, citation = self._about()
        return self.dataset_info_from_configs(
            description=description,
            features=tfds.features.FeaturesDict(
                {"inputs": inputs, "targets": targets, "metadata": metadata}
            ),
            supervised_keys=("inputs", "targets"),
            homepage=homepage,
            citation=citation,
            # Keep the file's order: example i of a split is row i of the file's split.
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        config = self.builder_config
        path = os.path.join(os.fspath(dl_manager.manual_dir), config.file_name)
        if not os.path.isfile(path):
            folder = os.path.dirname(path)
            present = sorted(os.listdir(folder)) if os.path.isdir(folder) else "nothing"
            raise ValueError(
                f"builder config {config.name!r} of {self.name} reads {config.file_name!r} "
                f"from manual_dir, which holds {present}; received manual_dir="
                f"{os.path.dirname(path)!r}.\n{self.MANUAL_DOWNLOAD_INSTRUCTIONS}"
            )
        features = read_mmsa(path)  # the file is read once, for all splits
        splits = {name: features.split(file_split) for name, file_split in SPLITS.items()}
        for file_split, data in zip(SPLITS.values(), splits.values()):
            self._check_file(path, file_split, data)
        return {name: self._generate_examples(data) for name, data in splits.items()}

    def _check_file(self, path, split, data):
        config = self.builder_config
        text_key = "text_ids" if config.text == "bert_ids" else "text"
        wanted = {text_key: config.shapes()["text"], "audio": config.shapes()["audio"],
                  "vision": config.shapes()["vision"]}
        for key, shape in wanted.items():
            file_key = "text_bert" if key == "text_ids" else key
            if key not in data:
                raise ValueError(
                    f"builder config {config.name!r} needs a {file_key!r} array; split "
                    f"{split!r} of {path} has none. Use a config with another `text` or "
                    f"MMSAConfig.for_file({path!r})"
                )
            if data[key].shape[1:] != shape:
                raise ValueError(
                    f"`{split}/{file_key}` of {path} has shape {data[key].shape[1:]} per "
                    f"example, but builder config {config.name!r} declares {shape}; pass a "
                    f"config with the file's shapes: {type(self).__name__}(config="
                    f"MMSAConfig.for_file({path!r}))"
                )
        needed = (["classification"] if config.classification else []) + (
            [f"regression_{m}" for m in UNIMODAL_LABELS] if config.unimodal_labels else [])
        missing = [key for key in needed if key not in data]
        if missing:
            raise ValueError(
                f"builder config {config.name!r} needs {missing} labels, which split "
                f"{split!r} of {path} does not have; use MMSAConfig.for_file({path!r})"
            )

    def _generate_examples(self, data):
        config = self.builder_config
        text_key = "text_ids" if config.text == "bert_ids" else "text"
        unimodal = [f"regression_{m}" for m in UNIMODAL_LABELS] if config.unimodal_labels else []
        for index in range(len(data["regression"])):
            inputs = {
                "text": data[text_key][index],
                "text_mask": data[f"{text_key}_mask"][index],
            }
            for modality in ("audio", "vision"):
                inputs[modality] = data[modality][index]
                inputs[f"{modality}_mask"] = data[f"{modality}_mask"][index]
            targets = {"regression": data["regression"][index]}
            if config.classification:
                targets["classification"] = data["classification"][index]
            metadata = {key: _text(data, key, index) for key in ("id", "raw_text")}
            metadata.update({key: data[key][index] for key in unimodal})
            yield index, {"inputs": inputs, "targets": targets, "metadata": metadata}


def _text(data, key, index):
    """A string field of sample `index`; MulT's `id` rows `(video, start, end)` join with "/"."""
    if key not in data:
        return ""
    values = np.asarray(data[key][index], dtype=object).ravel()
    return "/".join(v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values)


# --- the three data sets ---------------------------------------------------------------

_MOSI_FILES = {"aligned": "aligned_50.pkl", "unaligned": "unaligned_50.pkl"}
_MOSEI_FILES = _MOSI_FILES
_SIMS_FILES = {"unaligned": "unaligned_39.pkl"}


class CmuMosi(MMSABuilder):
    """CMU-MOSI: 2,199 opinion video clips, sentiment in [-3, 3], from MMSA's features."""

    BUILDER_CONFIGS = _configs(
        _MOSI_FILES,
        {"aligned": ((50, 768), (50, 5), (50, 20)),
         "unaligned": ((50, 768), (375, 5), (500, 20))},
    )
    MANUAL_DOWNLOAD_INSTRUCTIONS = _instructions("CMU-MOSI", "MOSI", _MOSI_FILES)

    def _about(self):
        return (
            "CMU-MOSI (Multimodal Opinion-level Sentiment Intensity): 93 YouTube movie "
            "reviews cut into 2,199 clips, each with text, audio and vision features and "
            "a sentiment score in [-3, 3]. Features as released by the MMSA framework.",
            "https://github.com/thuiar/MMSA",
            """@article{zadeh2016mosi,
  title={MOSI: Multimodal Corpus of Sentiment Intensity and Subjectivity Analysis in Online
         Opinion Videos},
  author={Zadeh, Amir and Zellers, Rowan and Pincus, Eli and Morency, Louis-Philippe},
  journal={IEEE Intelligent Systems},
  year={2016}
}""",
        )


class CmuMosei(MMSABuilder):
    """CMU-MOSEI: 22,856 opinion video clips, sentiment in [-3, 3], from MMSA's features."""

    BUILDER_CONFIGS = _configs(
        _MOSEI_FILES,
        {"aligned": ((50, 768), (50, 74), (50, 35)),
         "unaligned": ((50, 768), (500, 74), (500, 35))},
    )
    MANUAL_DOWNLOAD_INSTRUCTIONS = _instructions("CMU-MOSEI", "MOSEI", _MOSEI_FILES)

    def _about(self):
        return (
            "CMU-MOSEI (Multimodal Opinion Sentiment and Emotion Intensity): 22,856 "
            "YouTube clips from 1,000 speakers, each with text, audio and vision features "
            "and a sentiment score in [-3, 3]. Features as released by the MMSA "
            "framework; the public audio features hold -inf values, which become 0.",
            "https://github.com/thuiar/MMSA",
            """@inproceedings{zadeh2018mosei,
  title={Multimodal Language Analysis in the Wild: CMU-MOSEI Dataset and Interpretable
         Dynamic Fusion Graph},
  author={Zadeh, AmirAli Bagher and Liang, Paul Pu and Poria, Soujanya and Cambria, Erik
          and Morency, Louis-Philippe},
  booktitle={ACL},
  year={2018}
}""",
        )


class ChSims(MMSABuilder):
    """CH-SIMS: 2,281 Chinese video clips with multimodal and unimodal sentiment labels."""

    BUILDER_CONFIGS = _configs(
        _SIMS_FILES,
        {"unaligned": ((39, 768), (400, 33), (55, 709))},
        unimodal_labels=True,
    )
    MANUAL_DOWNLOAD_INSTRUCTIONS = _instructions("CH-SIMS", "SIMS", _SIMS_FILES)

    def _about(self):
        return (
            "CH-SIMS: 2,281 Mandarin video clips with a multimodal sentiment score and "
            "one per modality (text, audio, vision), each in [-1, 1]. Features as "
            "released by the MMSA framework.",
            "https://github.com/thuiar/MMSA",
            """@inproceedings{yu2020chsims,
  title={CH-SIMS: A Chinese Multimodal Sentiment Analysis Dataset with Fine-grained
         Annotation of Modality},
  author={Yu, Wenmeng and Xu, Hua and Meng, Fanyang and Zhu, Yilin and Ma, Yixiao and
          Wu, Jiele and Zou, Jiyun and Yang, Kaicheng},
  booktitle={ACL},
  year={2020}
}""",
        )
