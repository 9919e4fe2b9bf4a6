"""Clip records of audio-visual deepfake datasets, read from each dataset's own layout.

`read_clip_records(root)` reads a dataset's label or metadata files and checks that the
clips they list exist; it decodes nothing (the records name the files to decode). Each
`ClipRecord` holds the clip's MP4, its audio (`None`: the MP4's own track), the label
(0 real, 1 fake), the video and audio labels where the layout says them, the category,
the method, the fake segments in seconds (empty: the whole clip when fake), the
`video_id` that groups the clips of one source, and the split. The layouts
(`LAYOUTS`), and where each comes from:

- `folder`: the project's plain clip folder, which `generators` writes: `labels.csv`
  with the columns `file` and `label` (0/1 or real/fake), optionally `audio_file`
  (empty: `<stem>.wav` beside the MP4 when present, else the MP4's track),
  `video_label`, `audio_label` (0/1, empty: unknown), `category` (A-E), `method`,
  `fake_segments` (JSON `[[start_s, end_s], ...]`), `video_id` (default: the file
  stem) and `split` (empty: assigned). An MP4 under the root that no row lists is a
  bad file, except `<stem>_av.mp4` beside a listed `<stem>.mp4` (or the reverse): the
  same clip with its audio track muxed in.
- `fakeavceleb`: FakeAVCeleb v1.2 (DASH-Lab): `meta_data.csv` with the header
  `source,target1,target2,method,category,type,race,gender,path,` whose rows hold one
  more value than the header names: the file name under `path`, then its folder
  (`FakeAVCeleb/RealVideo-RealAudio/African/men/id00076`); a header naming
  `filename,path` reads the same. The clips lie in the four category folders
  `RealVideo-RealAudio/` (A), `RealVideo-FakeAudio/` (B), `FakeVideo-RealAudio/` (C)
  and `FakeVideo-FakeAudio/` (D) under the root, then race/gender/identity folders.
  `video_id` is the `source` identity.
- `lavdf`: LAV-DF (ControlNet/LAV-DF, `dataset/lavdf.py`): `metadata.min.json` or
  `metadata.json`, a list of `{file, split (train/dev/test), fake_periods,
  modify_video, modify_audio, original, n_fakes, duration, ...}`, `file` relative to
  the root (`train/000001.mp4`). `video_id` is the fake's `original`, else the file.
- `avdeepfake1m`: AV-Deepfake1M (ControlNet/AV-Deepfake1M, README "Metadata
  Structure" and `avdeepfake1m/loader.py`): `train_metadata.json` and
  `val_metadata.json`, lists of `{file, modify_type (real, visual_modified,
  audio_modified, both_modified), fake_segments, visual_fake_segments,
  audio_fake_segments, original, ...}`, the clips at `<root>/<subset>/<file>`. Its
  test subset has no labels (`test_files.txt`) and is not read. `video_id` is the
  clip's folder (one source's real and fake versions share it).
- `dfdc`: the Deepfake Detection Challenge (Kaggle): `metadata.json` in each part
  folder (`dfdc_train_part_0/`, or the root itself), mapping `"abc.mp4"` to `{label:
  REAL|FAKE, split, original}`. Its `split` is always `train`, so the reader assigns
  splits; a fake's `video_id` is its original's stem, so a fake and its source share a
  split. DFDC does not say which stream a fake changed: video/audio labels `None`.

LAV-DF and AV-Deepfake1M: `modify_type` (or the `modify_video`/`modify_audio` flags)
gives the category, real A, audio_modified B, visual_modified C, both_modified D, and is
the `method`. A dataset's own `dev`/`val` split is `valid`. Clips without a split get
one from their `video_id` alone: the first 8 bytes of its SHA-256 as a fraction `u` in
[0, 1) give `valid` when `u < valid_fraction`, `test` when `u < valid_fraction +
test_fraction`, else `train`; so the clips of one source share a split, and adding or
removing clips never moves another clip. Records come sorted by split (train, valid,
test), then by path.

Bad metadata (not CSV/JSON, a missing column or key, a value outside those accepted)
raises `ValueError` naming the file and row or entry. A listed clip whose file is
missing, and an unlisted MP4 in the folder layout, raise too, or with
`skip_bad_files=True` are left out and listed in `ClipRecords.skipped`.

Example:
>>> import os, tempfile
>>> root = tempfile.mkdtemp()
>>> os.makedirs(os.path.join(root, "clips"))
>>> for name in ("a.mp4", "a.wav", "b.mp4"):
...     open(os.path.join(root, "clips", name), "w").close()
>>> with open(os.path.join(root, "labels.csv"), "w") as handle:
...     _ = handle.write("file,label,category,fake_segments,split\\n"
...                      "clips/a.mp4,real,A,,train\\nclips/b.mp4,1,D,\\"[[0.5, 1.25]]\\",test\\n")
>>> clips = read_clip_records(root)
>>> clips.layout, [(os.path.basename(r.video_path), r.label, r.split) for r in clips.records]
('folder', [('a.mp4', 0, 'train'), ('b.mp4', 1, 'test')])
>>> os.path.basename(clips.records[0].audio_path), clips.records[1].audio_path
('a.wav', None)
>>> clips.records[1].fake_segments, clips.records[1].video_id
(((0.5, 1.25),), 'b')
"""

import csv
import dataclasses
import hashlib
import json
import math
import numbers
import os
import posixpath

from generators.validation import check_path
from msa_tf.validation import check_bool, check_choice, check_number, did_you_mean

__all__ = ["LAYOUTS", "SPLITS", "ClipRecord", "ClipRecords", "detect_layout", "read_clip_records"]

LAYOUTS = ("folder", "fakeavceleb", "lavdf", "avdeepfake1m", "dfdc")
SPLITS = ("train", "valid", "test")

# What each layout's root holds, for the errors.
_LAYOUT_FILES = {
    "folder": "labels.csv",
    "fakeavceleb": "meta_data.csv",
    "lavdf": "metadata.min.json or metadata.json (a list of clips)",
    "avdeepfake1m": "<subset>_metadata.json files (train_metadata.json, val_metadata.json)",
    "dfdc": "metadata.json (an object of clips) in itself or in part folders (dfdc_train_part_0/)",
}
# category -> (label, video_label, audio_label); E: real video and real audio out of sync.
_CATEGORY_LABELS = {"A": (0, 0, 0), "B": (1, 0, 1), "C": (1, 1, 0), "D": (1, 1, 1), "E": (1, 0, 0)}
_FAKEAVCELEB_FOLDERS = {"A": "RealVideo-RealAudio", "B": "RealVideo-FakeAudio",
                        "C": "FakeVideo-RealAudio", "D": "FakeVideo-FakeAudio"}
_MODIFY_TYPES = {"real": "A", "audio_modified": "B", "visual_modified": "C", "both_modified": "D"}
_LAVDF_FLAGS = {(False, False): "real", (False, True): "audio_modified",
                (True, False): "visual_modified", (True, True): "both_modified"}
_SPLIT_NAMES = {"train": "train", "valid": "valid", "val": "valid", "dev": "valid", "test": "test"}
_BINARY = {"0": 0, "1": 1, "real": 0, "fake": 1}
_DFDC_LABELS = {"REAL": 0, "FAKE": 1}


@dataclasses.dataclass(frozen=True)
class ClipRecord:
    """One clip of a dataset, as its metadata describe it.

    Attributes:
        video_path: the MP4 file.
        audio_path: a separate audio file (WAV), or `None` for the MP4's own track.
        label: 0 real, 1 fake.
        video_label, audio_label: 0/1 for each stream, `None` where the layout does not say.
        category: A real video + real audio, B real video + fake audio, C fake video +
            real audio, D both fake, E both real but out of sync; `None` if unknown.
        method: how the clip was made (`real`, `wav2lip`, `both_modified`, ...) or `None`.
        fake_segments: `((start_s, end_s), ...)`; empty = the whole clip when fake.
        video_id: the source the clip comes from; clips of one source share a split.
        split: `train`, `valid` or `test`.
    """

    video_path: str
    audio_path: str | None
    label: int
    video_label: int | None
    audio_label: int | None
    category: str | None
    method: str | None
    fake_segments: tuple
    video_id: str
    split: str | None


@dataclasses.dataclass(frozen=True)
class ClipRecords:
    """The records of a dataset, the bad files left out and the layout read.

    Attributes:
        records: `ClipRecord`s sorted by split (train, valid, test), then by path.
        skipped: `(path, reason)` of each bad file left out (`skip_bad_files=True`).
        layout: the layout read, one of `LAYOUTS`.
    """

    records: tuple
    skipped: tuple
    layout: str

    def split(self, name):
        """The records of the split `name` (`train`, `valid` or `test`), a list."""
        check_choice("split", name, SPLITS)
        return [record for record in self.records if record.split == name]


def read_clip_records(root, layout="auto", skip_bad_files=False, valid_fraction=0.1, test_fraction=0.1):
    """The clip records of the dataset folder `root`, as a `ClipRecords` (module doc).

    Args:
        root: the dataset's folder.
        layout: one of `LAYOUTS`, or `"auto"` to recognise it (`detect_layout`).
        skip_bad_files: leave out (and list in `skipped`) listed clips whose file is
            missing and unlisted MP4s, instead of raising `ValueError`.
        valid_fraction, test_fraction: the shares of sources (`video_id`s) put in
            `valid` and `test` for clips whose metadata give no split.

    >>> read_clip_records("/nonexistent")
    Traceback (most recent call last):
    ...
    ValueError: `root` must be a dataset folder; received root='/nonexistent', which is not a folder
    """
    root = check_path("root", root, "a dataset folder", must_be="folder")
    check_choice("layout", layout, ("auto", *LAYOUTS))
    problems = _Problems(check_bool("skip_bad_files", skip_bad_files))
    fractions = _fractions(valid_fraction, test_fraction)
    layout = detect_layout(root) if layout == "auto" else layout
    records = [_with_split(record, *fractions) for record in _READERS[layout](root, problems)]
    records.sort(key=lambda record: (SPLITS.index(record.split), record.video_path))
    return ClipRecords(tuple(records), tuple(problems.skipped), layout)


def detect_layout(root):
    """The layout (one of `LAYOUTS`) of the dataset folder `root`, from the files it holds.

    `labels.csv`: folder; `meta_data.csv`: fakeavceleb; `*_metadata.json`:
    avdeepfake1m; `metadata.min.json`, or a `metadata.json` holding a list: lavdf; a
    `metadata.json` holding an object, or folders holding one: dfdc.

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> open(os.path.join(root, "meta_data.csv"), "w").close()
    >>> detect_layout(root)
    'fakeavceleb'
    """
    root = check_path("root", root, "a dataset folder", must_be="folder")
    names = set(os.listdir(root))
    if "labels.csv" in names:
        return "folder"
    if "meta_data.csv" in names:
        return "fakeavceleb"
    if any(name.endswith("_metadata.json") for name in names):
        return "avdeepfake1m"
    if "metadata.min.json" in names:
        return "lavdf"
    if "metadata.json" in names:
        return "dfdc" if _first_character(os.path.join(root, "metadata.json")) == b"{" else "lavdf"
    if _dfdc_parts(root):
        return "dfdc"
    known = "; ".join(f"{files} ({layout})" for layout, files in _LAYOUT_FILES.items())
    raise ValueError(f"`root` must be a dataset folder of a known layout; received root={root!r}, "
                     f"which holds none of: {known}")


class _Problems:
    """Bad files: raised, or with `skip_bad_files` collected as `(path, reason)` pairs."""

    def __init__(self, skip):
        self.skip = skip
        self.skipped = []

    def report(self, path, reason):
        if not self.skip:
            raise ValueError(f"{reason} (skip_bad_files=True leaves such files out)")
        self.skipped.append((path, reason))


def _fractions(valid_fraction, test_fraction):
    fractions = [check_number(name, value, low=0, high=1, high_open=True, accepted="a number in [0, 1)")
                 for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction))]
    if sum(fractions) >= 1:
        raise ValueError(f"`valid_fraction` + `test_fraction` must be below 1 (train keeps the rest); "
                         f"received valid_fraction={valid_fraction!r} + test_fraction={test_fraction!r}")
    return fractions


def _with_split(record, valid_fraction, test_fraction):
    """`record`, given the split of its source when it has none: from the SHA-256 of its `video_id`."""
    if record.split:
        return record
    share = int.from_bytes(hashlib.sha256(record.video_id.encode()).digest()[:8], "big") / 2 ** 64
    if share < valid_fraction:
        return dataclasses.replace(record, split="valid")
    return dataclasses.replace(record, split="test" if share < valid_fraction + test_fraction else "train")


def _missing_metadata(root, layout):
    return ValueError(f"`root` must hold {_LAYOUT_FILES[layout]} for layout={layout!r}; "
                      f"received root={root!r}, which does not")


def _first_file(root, layout, names):
    """The first of the files `names` in `root`; an error if there is none."""
    for name in names:
        path = os.path.join(root, name)
        if os.path.isfile(path):
            return path
    raise _missing_metadata(root, layout)


def _first_character(path):
    with open(path, "rb") as handle:
        return handle.read(64).lstrip()[:1]


def _under(root, clip):
    """The path of `clip` (relative to `root`, '/' separators)."""
    return os.path.join(root, *clip.split("/"))


def _stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def _exists(problems, labels_file, clip, path):
    """Whether `path` is a file; if not, reported as `labels_file` listing a missing `clip`."""
    if os.path.isfile(path):
        return True
    problems.report(path, f"{labels_file} lists {clip!r} but the file is missing (expected at {path})")
    return False


def _choice(where, name, value, accepted):
    """`accepted[value]` for a str `value` among its keys, else a `ValueError` naming `where`."""
    if isinstance(value, str) and value in accepted:
        return accepted[value]
    raise ValueError(f"{where}: `{name}` must be one of {', '.join(map(repr, accepted))}; "
                     f"received {name}={value!r}{did_you_mean(value, accepted)}")


def _text(where, name, value):
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: `{name}` must be a non-empty string (a path); received {name}={value!r}")
    return value


def _flag(where, name, value):
    if not isinstance(value, bool):
        raise ValueError(f"{where}: `{name}` must be true or false; received {name}={value!r}")
    return value


def _is_seconds(value):
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


def _segments(where, name, value):
    """`value` (a list of `[start_s, end_s]`) as a tuple of float pairs."""
    if not isinstance(value, list) or not all(
            isinstance(pair, list) and len(pair) == 2 and all(map(_is_seconds, pair)) and pair[0] <= pair[1]
            for pair in value):
        raise ValueError(f"{where}: `{name}` must be a list of [start_s, end_s] pairs with "
                         f"0 <= start_s <= end_s; received {name}={value!r}")
    return tuple((float(start), float(end)) for start, end in value)


def _from_category(category, **fields):
    """A `ClipRecord` whose label and video/audio labels follow from its `category`."""
    label, video_label, audio_label = _CATEGORY_LABELS[category]
    return ClipRecord(label=label, video_label=video_label, audio_label=audio_label, category=category,
                      **fields)


def _modified(modify_type, where, entry, segments_key, **fields):
    """A LAV-DF or AV-Deepfake1M record: the category and method from `modify_type`."""
    return _from_category(_MODIFY_TYPES[modify_type], method=modify_type, audio_path=None,
                          fake_segments=_segments(where, segments_key, entry[segments_key]), **fields)


def _csv_table(path, required):
    """The header and the `(where, values)` data rows of a CSV file, every value stripped."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            lines = list(csv.reader(handle))
    except (csv.Error, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not a readable UTF-8 CSV file: {error}") from None
    header = [name.strip() for name in lines[0]] if lines else []
    for name in required:
        if name not in header:
            raise ValueError(f"{path} must name the columns {', '.join(map(repr, required))} in its "
                             f"header row; received {header}, without {name!r}"
                             f"{did_you_mean(name, header)}")
    rows = [(f"{path} row {number}", [value.strip() for value in values])
            for number, values in enumerate(lines[1:], start=2) if any(value.strip() for value in values)]
    return header, rows


def _json_entries(path, kind, required):
    """`(key, where, entry)` of each clip of a JSON file holding a `kind` (list or dict) of objects."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid UTF-8 JSON: {error}") from None
    if not isinstance(data, kind):
        expected = "a list" if kind is list else "an object"
        raise ValueError(f"{path} must hold {expected} of clips; received a JSON {type(data).__name__}")
    for key, entry in data.items() if kind is dict else enumerate(data):
        where = f"{path} entry {key!r}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object; received {entry!r}")
        missing = [name for name in required if name not in entry]
        if missing:
            raise ValueError(f"{where} lacks the key {missing[0]!r}; each entry needs "
                             f"{', '.join(map(repr, required))}{did_you_mean(missing[0], entry)}")
        yield key, where, entry


def _read_folder(root, problems):
    labels_file = _first_file(root, "folder", ("labels.csv",))
    header, rows = _csv_table(labels_file, ("file", "label"))
    records, listed = [], set()
    for where, values in rows:
        row = dict(zip(header, values + [""] * len(header)))
        clip = _text(where, "file", row["file"])
        video = _under(root, clip)
        listed.add(_clip_key(video))
        audio_clip = row.get("audio_file", "")
        record = _folder_record(where, row, video,
                                _under(root, audio_clip) if audio_clip else _wav_beside(video))
        if _exists(problems, labels_file, clip, video) and (
                not audio_clip or _exists(problems, labels_file, audio_clip, record.audio_path)):
            records.append(record)
    for path in _mp4_files(root):
        if _clip_key(path) not in listed:
            problems.report(path, f"{path} is an MP4 that {labels_file} does not list")
    return records


def _folder_record(where, row, video, audio):
    def optional(name, accepted):
        return _choice(where, name, row[name], accepted) if row.get(name) else None

    return ClipRecord(
        video_path=video, audio_path=audio, label=_choice(where, "label", row["label"], _BINARY),
        video_label=optional("video_label", _BINARY), audio_label=optional("audio_label", _BINARY),
        category=optional("category", {letter: letter for letter in _CATEGORY_LABELS}),
        method=row.get("method") or None,
        fake_segments=_segments(where, "fake_segments", _json_cell(where, "fake_segments", row)),
        video_id=row.get("video_id") or _stem(video), split=optional("split", _SPLIT_NAMES))


def _json_cell(where, name, row):
    try:
        return json.loads(row.get(name) or "[]")
    except json.JSONDecodeError:
        raise ValueError(f"{where}: `{name}` must be JSON, e.g. [[0.5, 1.25]]; "
                         f"received {name}={row[name]!r}") from None


def _wav_beside(video):
    wav = os.path.splitext(video)[0] + ".wav"
    return wav if os.path.isfile(wav) else None


def _clip_key(path):
    """`path` without its suffix and a trailing `_av` (`x_av.mp4` is `x.mp4` with its audio track)."""
    return os.path.splitext(path)[0].removesuffix("_av")


def _mp4_files(root):
    return sorted(os.path.join(folder, name) for folder, _, names in os.walk(root)
                  for name in names if name.lower().endswith(".mp4"))


def _read_fakeavceleb(root, problems):
    labels_file = _first_file(root, "fakeavceleb", ("meta_data.csv",))
    header, rows = _csv_table(labels_file, ("source", "method", "category", "path"))
    name_at = header.index("filename" if "filename" in header else "path")
    records = []
    for where, values in rows:
        if len(values) < name_at + 2:
            raise ValueError(f"{where} must hold the file name and its folder in columns {name_at + 1} "
                             f"and {name_at + 2}; received {values}")
        category = _choice(where, "category", values[header.index("category")],
                           {letter: letter for letter in _FAKEAVCELEB_FOLDERS})
        clip = _fakeavceleb_clip(where, values[name_at + 1], values[name_at], category)
        record = _from_category(category, video_path=_under(root, clip), audio_path=None,
                                method=values[header.index("method")], fake_segments=(),
                                video_id=values[header.index("source")], split=None)
        if _exists(problems, labels_file, clip, record.video_path):
            records.append(record)
    return records


def _fakeavceleb_clip(where, folder, name, category):
    """`<category folder>/.../<name>`: the row's folder from its category folder on, and its file."""
    parts = [part for part in folder.split("/") if part]
    if _FAKEAVCELEB_FOLDERS[category] not in parts or not name:
        raise ValueError(f"{where}: the folder of a category {category} clip must lie in "
                         f"{_FAKEAVCELEB_FOLDERS[category]}/ and name a file; received folder={folder!r}, "
                         f"file={name!r}")
    return "/".join([*parts[parts.index(_FAKEAVCELEB_FOLDERS[category]):], name])


def _read_lavdf(root, problems):
    path = _first_file(root, "lavdf", ("metadata.min.json", "metadata.json"))
    records = []
    for _, where, entry in _json_entries(
            path, list, ("file", "split", "fake_periods", "modify_video", "modify_audio")):
        modify_type = _LAVDF_FLAGS[_flag(where, "modify_video", entry["modify_video"]),
                                   _flag(where, "modify_audio", entry["modify_audio"])]
        clip = _text(where, "file", entry["file"])
        original = entry.get("original")
        fake_with_original = original is not None and modify_type != "real"
        source = _text(where, "original", original) if fake_with_original else clip
        record = _modified(modify_type, where, entry, "fake_periods", video_path=_under(root, clip),
                           video_id=posixpath.splitext(source)[0],
                           split=_choice(where, "split", entry["split"], _SPLIT_NAMES))
        if _exists(problems, path, clip, record.video_path):
            records.append(record)
    return records


def _read_avdeepfake1m(root, problems):
    paths = sorted(os.path.join(root, name) for name in os.listdir(root) if name.endswith("_metadata.json"))
    if not paths:
        raise _missing_metadata(root, "avdeepfake1m")
    records = []
    for path in paths:
        subset = os.path.basename(path).removesuffix("_metadata.json")
        split = _choice(path, "subset", subset, _SPLIT_NAMES)
        for _, where, entry in _json_entries(path, list, ("file", "modify_type", "fake_segments")):
            modify_type = _choice(where, "modify_type", entry["modify_type"], {t: t for t in _MODIFY_TYPES})
            clip = _text(where, "file", entry["file"])
            record = _modified(modify_type, where, entry, "fake_segments",
                               video_path=_under(root, f"{subset}/{clip}"),
                               video_id=posixpath.dirname(clip) or posixpath.splitext(clip)[0], split=split)
            if _exists(problems, path, clip, record.video_path):
                records.append(record)
    return records


def _dfdc_parts(root):
    """The folders holding a DFDC `metadata.json`: `root` itself, else its sub-folders."""
    if os.path.isfile(os.path.join(root, "metadata.json")):
        return [root]
    return sorted(os.path.join(root, name) for name in os.listdir(root)
                  if os.path.isfile(os.path.join(root, name, "metadata.json")))


def _read_dfdc(root, problems):
    parts = _dfdc_parts(root)
    if not parts:
        raise _missing_metadata(root, "dfdc")
    records = []
    for part in parts:
        path = os.path.join(part, "metadata.json")
        for name, where, entry in _json_entries(path, dict, ("label",)):
            label = _choice(where, "label", entry["label"], _DFDC_LABELS)
            original = entry.get("original")
            source = _text(where, "original", original) if label and original is not None else name
            fields = dict(video_path=os.path.join(part, name), audio_path=None, fake_segments=(),
                          video_id=_stem(source), split=None)
            record = (ClipRecord(label=1, video_label=None, audio_label=None, category=None, method=None,
                                 **fields) if label else _from_category("A", method="real", **fields))
            if _exists(problems, path, name, record.video_path):
                records.append(record)
    return records


_READERS = {"folder": _read_folder, "fakeavceleb": _read_fakeavceleb, "lavdf": _read_lavdf,
            "avdeepfake1m": _read_avdeepfake1m, "dfdc": _read_dfdc}
