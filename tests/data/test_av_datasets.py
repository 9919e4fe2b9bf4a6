import json
import os

import pytest

from msa_tf.data.av_datasets import LAYOUTS, SPLITS, detect_layout, read_clip_records


def touch(root, *clips):
    for clip in clips:
        path = root.joinpath(*clip.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_json(path, data):
    write(path, json.dumps(data))


def summary(clips, root):
    """Each record as a tuple, with paths relative to `root`."""
    def relative(path):
        return None if path is None else os.path.relpath(path, root).replace(os.sep, "/")

    return [(relative(r.video_path), relative(r.audio_path), r.label, r.video_label, r.audio_label,
             r.category, r.method, r.fake_segments, r.video_id, r.split) for r in clips.records]


FOLDER_LABELS = (
    "file,audio_file,label,video_label,audio_label,category,method,fake_segments,video_id,split\n"
    "clips/train/train_00001_av.mp4,,fake,0,0,E,lip_sync_swap,\"[[0.5, 1.0]]\",s1,train\n"
    "clips/train/train_00000.mp4,,0,0,0,A,real,[],,train\n"
    "clips/valid/valid_00000.mp4,audio/v0.wav,1,1,1,D,face_blend+pitch_shift,[],s2,dev\n"
    "clips/extra/x.mp4,,real,,,,,,,\n"
)


def folder_tree(root):
    """The generator's layout: MP4s with WAVs beside, an `_av.mp4` listed instead of its plain MP4."""
    touch(root, "clips/train/train_00000.mp4", "clips/train/train_00000.wav", "clips/train/train_00001.mp4",
          "clips/train/train_00001.wav", "clips/train/train_00001_av.mp4", "clips/valid/valid_00000.mp4",
          "audio/v0.wav", "clips/extra/x.mp4")
    write(root / "labels.csv", FOLDER_LABELS)
    write_json(root / "metadata.json", {"generator": "av_clips"})


FAKEAVCELEB_HEADERS = {"v1.2": "source,target1,target2,method,category,type,race,gender,path,",
                       "named": "source,target1,target2,method,category,type,race,gender,filename,path"}
FAKEAVCELEB_ROWS = [  # (source, target1, target2, method, category, race, gender, file)
    ("id00076", "-", "-", "real", "A", "African", "men", "00109.mp4"),
    ("id00076", "-", "-", "rtvc", "B", "African", "men", "00109_fake.mp4"),
    ("id00076", "id00166", "-", "faceswap", "C", "African", "men", "00109_2_id00166_faceswap.mp4"),
    ("id00076", "id00166", "3", "faceswap-wav2lip", "D", "African", "men", "00109_3_id00166_wavtolip.mp4"),
    ("id00166", "-", "-", "real", "A", "Asian (East)", "women", "00010.mp4"),
]
FOLDERS = {"A": "RealVideo-RealAudio", "B": "RealVideo-FakeAudio", "C": "FakeVideo-RealAudio",
           "D": "FakeVideo-FakeAudio"}


def fakeavceleb_clip(row):
    source, _, _, _, category, race, gender, name = row
    return f"{FOLDERS[category]}/{race}/{gender}/{source}/{name}"


def fakeavceleb_tree(root, header="v1.2", rows=FAKEAVCELEB_ROWS):
    """FakeAVCeleb v1.2: the file name, then its folder (prefixed `FakeAVCeleb/`), in each row."""
    lines = [FAKEAVCELEB_HEADERS[header]]
    for row in rows:
        source, target1, target2, method, category, race, gender, name = row
        folder = f"FakeAVCeleb/{FOLDERS[category]}/{race}/{gender}/{source}"
        lines.append(f"{source},{target1},{target2},{method},{category},{FOLDERS[category]},{race},{gender},"
                     f"{name},{folder}")
        touch(root, fakeavceleb_clip(row))
    write(root / "meta_data.csv", "\n".join(lines) + "\n")


def lavdf_entry(file, split, fake_periods, original, modify_video, modify_audio):
    return {"file": file, "n_fakes": len(fake_periods), "fake_periods": fake_periods, "duration": 4.2,
            "original": original, "modify_video": modify_video, "modify_audio": modify_audio, "split": split,
            "video_frames": 105, "audio_channels": 1, "audio_frames": 67200}


LAVDF_ENTRIES = [
    lavdf_entry("train/000001.mp4", "train", [[1.2, 1.6]], "train/000000.mp4", True, True),
    lavdf_entry("train/000000.mp4", "train", [], None, False, False),
    lavdf_entry("dev/000002.mp4", "dev", [[0.4, 0.9], [2, 2.25]], "dev/000005.mp4", False, True),
    lavdf_entry("test/000003.mp4", "test", [[3.0, 3.5]], "test/000009.mp4", True, False),
]


def lavdf_tree(root, name="metadata.json", entries=LAVDF_ENTRIES):
    write_json(root / name, entries)
    touch(root, *(entry["file"] for entry in entries))


def av1m_entry(file, modify_type, fake_segments, original=None):
    segments = {"visual_fake_segments": fake_segments if modify_type in ("visual_modified", "both_modified")
                else [], "audio_fake_segments": fake_segments if modify_type in ("audio_modified",
                                                                                 "both_modified") else []}
    return {"file": file, "original": original, "split": "train", "modify_type": modify_type,
            "audio_model": "your_tts", "fake_segments": fake_segments, **segments, "video_frames": 100,
            "audio_frames": 64000}


AV1M_ENTRIES = {
    "train": [av1m_entry("id00012/abc/00001/real.mp4", "real", []),
              av1m_entry("id00012/abc/00001/fake_video_fake_audio.mp4", "both_modified", [[1.0, 1.5]],
                         "id00012/abc/00001/real.mp4"),
              av1m_entry("id00012/abc/00001/fake_video_real_audio.mp4", "visual_modified", [[2.0, 2.5]])],
    "val": [av1m_entry("id00020/xyz/00003/real_video_fake_audio.mp4", "audio_modified", [[0.2, 0.6]])],
}


def avdeepfake1m_tree(root, entries=AV1M_ENTRIES):
    """AV-Deepfake1M: `<subset>_metadata.json` and the clips in `<subset>/`; test has no labels."""
    for subset, subset_entries in entries.items():
        write_json(root / f"{subset}_metadata.json", subset_entries)
        touch(root, *(f"{subset}/{entry['file']}" for entry in subset_entries))
    write(root / "test_files.txt", "id00030/q/00001/a.mp4\n")
    touch(root, "test/id00030/q/00001/a.mp4")


DFDC_PARTS = {
    "dfdc_train_part_0": {"aaa.mp4": {"label": "REAL", "split": "train", "original": None},
                          "bbb.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"}},
    "dfdc_train_part_1": {"ccc.mp4": {"label": "FAKE", "split": "train", "original": "ddd.mp4"},
                          "ddd.mp4": {"label": "REAL", "split": "train"}},
}


def dfdc_tree(root, parts=DFDC_PARTS):
    for part, metadata in parts.items():
        write_json(root / part / "metadata.json", metadata)
        touch(root, *(f"{part}/{name}" for name in metadata))


TREES = {"folder": folder_tree, "fakeavceleb": fakeavceleb_tree, "lavdf": lavdf_tree,
         "avdeepfake1m": avdeepfake1m_tree, "dfdc": dfdc_tree}


def test_the_folder_layout_reads_every_column_and_finds_wavs_beside_the_clips(tmp_path):
    folder_tree(tmp_path)
    clips = read_clip_records(tmp_path)
    assert clips.layout == "folder" and clips.skipped == ()
    records = summary(clips, tmp_path)
    assert [record for record in records if record[0] != "clips/extra/x.mp4"] == [
        ("clips/train/train_00000.mp4", "clips/train/train_00000.wav", 0, 0, 0, "A", "real", (),
         "train_00000", "train"),
        ("clips/train/train_00001_av.mp4", None, 1, 0, 0, "E", "lip_sync_swap", ((0.5, 1.0),), "s1", "train"),
        ("clips/valid/valid_00000.mp4", "audio/v0.wav", 1, 1, 1, "D", "face_blend+pitch_shift", (), "s2",
         "valid"),
    ]
    extra = [record[:-1] for record in records if record[0] == "clips/extra/x.mp4"]
    assert extra == [("clips/extra/x.mp4", None, 0, None, None, None, None, (), "x")]
    assert records == sorted(records, key=lambda record: (SPLITS.index(record[-1]), record[0]))


@pytest.mark.parametrize("header", sorted(FAKEAVCELEB_HEADERS))
def test_fakeavceleb_rows_give_the_category_labels_and_the_source_identity(tmp_path, header):
    fakeavceleb_tree(tmp_path, header)
    clips = read_clip_records(tmp_path)
    by_file = {record[0]: record[2:9] for record in summary(clips, tmp_path)}
    assert by_file == {
        "RealVideo-RealAudio/African/men/id00076/00109.mp4": (0, 0, 0, "A", "real", (), "id00076"),
        "RealVideo-FakeAudio/African/men/id00076/00109_fake.mp4": (1, 0, 1, "B", "rtvc", (), "id00076"),
        "FakeVideo-RealAudio/African/men/id00076/00109_2_id00166_faceswap.mp4":
            (1, 1, 0, "C", "faceswap", (), "id00076"),
        "FakeVideo-FakeAudio/African/men/id00076/00109_3_id00166_wavtolip.mp4":
            (1, 1, 1, "D", "faceswap-wav2lip", (), "id00076"),
        "RealVideo-RealAudio/Asian (East)/women/id00166/00010.mp4": (0, 0, 0, "A", "real", (), "id00166"),
    }
    assert all(record.audio_path is None for record in clips.records)
    assert len({record.split for record in clips.records if record.video_id == "id00076"}) == 1


@pytest.mark.parametrize("name", ["metadata.json", "metadata.min.json"])
def test_lavdf_flags_give_categories_fake_periods_in_seconds_and_its_own_splits(tmp_path, name):
    lavdf_tree(tmp_path, name)
    clips = read_clip_records(tmp_path)
    assert clips.layout == "lavdf"
    assert summary(clips, tmp_path) == [
        ("train/000000.mp4", None, 0, 0, 0, "A", "real", (), "train/000000", "train"),
        ("train/000001.mp4", None, 1, 1, 1, "D", "both_modified", ((1.2, 1.6),), "train/000000", "train"),
        ("dev/000002.mp4", None, 1, 0, 1, "B", "audio_modified", ((0.4, 0.9), (2.0, 2.25)), "dev/000005",
         "valid"),
        ("test/000003.mp4", None, 1, 1, 0, "C", "visual_modified", ((3.0, 3.5),), "test/000009", "test"),
    ]


def test_avdeepfake1m_reads_its_labelled_subsets_with_the_clips_in_subset_folders(tmp_path):
    avdeepfake1m_tree(tmp_path)
    clips = read_clip_records(tmp_path)
    source = "id00012/abc/00001"
    assert clips.layout == "avdeepfake1m" and summary(clips, tmp_path) == [
        (f"train/{source}/fake_video_fake_audio.mp4", None, 1, 1, 1, "D", "both_modified", ((1.0, 1.5),),
         source, "train"),
        (f"train/{source}/fake_video_real_audio.mp4", None, 1, 1, 0, "C", "visual_modified", ((2.0, 2.5),),
         source, "train"),
        (f"train/{source}/real.mp4", None, 0, 0, 0, "A", "real", (), source, "train"),
        ("val/id00020/xyz/00003/real_video_fake_audio.mp4", None, 1, 0, 1, "B", "audio_modified",
         ((0.2, 0.6),), "id00020/xyz/00003", "valid"),
    ]


def test_dfdc_fakes_share_the_split_of_their_original_and_reals_are_category_a(tmp_path):
    dfdc_tree(tmp_path)
    clips = read_clip_records(tmp_path)
    by_file = {os.path.basename(record[0]): record for record in summary(clips, tmp_path)}
    assert by_file["aaa.mp4"][:9] == ("dfdc_train_part_0/aaa.mp4", None, 0, 0, 0, "A", "real", (), "aaa")
    assert by_file["bbb.mp4"][:9] == ("dfdc_train_part_0/bbb.mp4", None, 1, None, None, None, None, (), "aaa")
    assert by_file["ccc.mp4"][2:9] == (1, None, None, None, None, (), "ddd")
    assert by_file["ddd.mp4"][2:9] == (0, 0, 0, "A", "real", (), "ddd")
    assert by_file["aaa.mp4"][-1] == by_file["bbb.mp4"][-1]  # a fake in the split of its original
    assert by_file["ccc.mp4"][-1] == by_file["ddd.mp4"][-1]
    one_part = read_clip_records(tmp_path / "dfdc_train_part_1")
    assert one_part.layout == "dfdc"
    assert [os.path.basename(record.video_path) for record in one_part.records] == ["ccc.mp4", "ddd.mp4"]


def test_sources_without_a_split_are_spread_by_the_fractions_and_never_move(tmp_path):
    rows = [f"clips/{source}_{take}.mp4,{take},{source}," for source in range(300) for take in range(2)]
    touch(tmp_path, *(row.split(",")[0] for row in rows))
    write(tmp_path / "labels.csv", "file,label,video_id,split\n" + "\n".join(rows) + "\n")
    clips = read_clip_records(tmp_path, valid_fraction=0.2, test_fraction=0.1)
    split_of = {}
    for record in clips.records:
        assert split_of.setdefault(record.video_id, record.split) == record.split  # one split per source
    sources = {split: list(split_of.values()).count(split) for split in SPLITS}
    assert sources["valid"] == pytest.approx(60, abs=15) and sources["test"] == pytest.approx(30, abs=12)
    assert [len(clips.split(split)) for split in SPLITS] == [2 * sources[split] for split in SPLITS]
    write(tmp_path / "labels.csv", "file,label,video_id,split\n" + "\n".join(rows[::4]) + "\n")
    fewer = read_clip_records(tmp_path, skip_bad_files=True, valid_fraction=0.2, test_fraction=0.1)
    assert len(fewer.records) == 150 and len(fewer.skipped) == 450  # the unlisted MP4s
    assert all(split_of[record.video_id] == record.split for record in fewer.records)
    assert {r.split for r in read_clip_records(tmp_path, skip_bad_files=True, valid_fraction=0,
                                               test_fraction=0).records} == {"train"}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_auto_detection_recognises_each_layout_from_its_files(tmp_path, layout):
    TREES[layout](tmp_path)
    assert detect_layout(tmp_path) == layout
    assert read_clip_records(tmp_path, layout=layout) == read_clip_records(tmp_path)


MISSING = {  # layout: (clip to delete, the metadata file and the clip as it lists it)
    "folder": ("clips/valid/valid_00000.mp4", r"labels.csv lists 'clips/valid/valid_00000.mp4'"),
    "fakeavceleb": (fakeavceleb_clip(FAKEAVCELEB_ROWS[2]), r"meta_data.csv lists "
                    r"'FakeVideo-RealAudio/African/men/id00076/00109_2_id00166_faceswap.mp4'"),
    "lavdf": ("dev/000002.mp4", r"metadata.json lists 'dev/000002.mp4'"),
    "avdeepfake1m": ("val/id00020/xyz/00003/real_video_fake_audio.mp4",
                     r"val_metadata.json lists 'id00020/xyz/00003/real_video_fake_audio.mp4'"),
    "dfdc": ("dfdc_train_part_1/ccc.mp4", r"dfdc_train_part_1/metadata.json lists 'ccc.mp4'"),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_listed_clip_that_is_missing_raises_or_is_skipped_and_listed(tmp_path, layout):
    TREES[layout](tmp_path)
    everything = read_clip_records(tmp_path)
    clip, message = MISSING[layout]
    path = tmp_path.joinpath(*clip.split("/"))
    path.unlink()
    with pytest.raises(ValueError, match=rf"{message} but the file is missing \(expected at .*\) "
                                         r"\(skip_bad_files=True leaves such files out\)"):
        read_clip_records(tmp_path)
    skipped = read_clip_records(tmp_path, skip_bad_files=True)
    assert [p for p, _ in skipped.skipped] == [str(path)]
    assert "but the file is missing" in skipped.skipped[0][1]
    assert skipped.records == tuple(r for r in everything.records if r.video_path != str(path))


def test_the_folder_layout_checks_listed_audio_files_and_unlisted_mp4s(tmp_path):
    folder_tree(tmp_path)
    (tmp_path / "audio" / "v0.wav").unlink()
    with pytest.raises(ValueError, match=r"labels.csv lists 'audio/v0.wav' but the file is missing"):
        read_clip_records(tmp_path)
    touch(tmp_path, "audio/v0.wav", "clips/stray.mp4", "clips/train/train_00000_av.mp4")
    with pytest.raises(ValueError, match=r"clips/stray.mp4 is an MP4 that .*labels.csv does not list "):
        read_clip_records(tmp_path)
    clips = read_clip_records(tmp_path, skip_bad_files=True)
    assert clips.skipped == ((str(tmp_path / "clips" / "stray.mp4"),
                              f"{tmp_path / 'clips' / 'stray.mp4'} is an MP4 that "
                              f"{tmp_path / 'labels.csv'} does not list"),)
    assert len(clips.records) == 4


def replace_in(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


FOLDER_ERRORS = [
    ("fake,0,0,E", "maybe,0,0,E", r"labels.csv row 2: `label` must be one of '0', '1', 'real', 'fake'; "
                                  r"received label='maybe'$"),
    ("fake,0,0,E", "Fake,0,0,E", r"received label='Fake' \(did you mean 'fake'\?\)"),
    ("fake,0,0,E", "fake,2,0,E", r"row 2: `video_label` must be one of '0', '1', 'real', 'fake'; received "
                                 r"video_label='2'"),
    ("fake,0,0,E", "fake,0,0,F", r"row 2: `category` must be one of 'A', 'B', 'C', 'D', 'E'; received "
                                 r"category='F'"),
    ("s2,dev", "s2,tran", r"row 4: `split` must be one of 'train', 'valid', 'val', 'dev', 'test'; received "
                          r"split='tran' \(did you mean 'train'\?\)"),
    ('"[[0.5, 1.0]]"', '"[[1.0, 0.5]]"', r"row 2: `fake_segments` must be a list of \[start_s, end_s\] "
                                         r"pairs with 0 <= start_s <= end_s; received "
                                         r"fake_segments=\[\[1.0, 0.5\]\]"),
    ('"[[0.5, 1.0]]"', "[0.5", r"row 2: `fake_segments` must be JSON, e.g. \[\[0.5, 1.25\]\]; received "
                               r"fake_segments='\[0.5'"),
    ("file,audio_file,label", "file,audio_file,lable", r"labels.csv must name the columns 'file', 'label' in "
                                                       r"its header row; received \[.*\], without 'label' "
                                                       r"\(did you mean 'lable'\?\)"),
]


@pytest.mark.parametrize("old, new, message", FOLDER_ERRORS)
def test_bad_labels_csv_values_raise_naming_the_row_the_value_and_the_accepted(tmp_path, old, new, message):
    folder_tree(tmp_path)
    replace_in(tmp_path / "labels.csv", old, new)
    with pytest.raises(ValueError, match=message):
        read_clip_records(tmp_path, skip_bad_files=True)


def test_bad_fakeavceleb_rows_raise_naming_the_row(tmp_path):
    fakeavceleb_tree(tmp_path)
    replace_in(tmp_path / "meta_data.csv", "rtvc,B", "rtvc,E")
    with pytest.raises(ValueError, match=r"meta_data.csv row 3: `category` must be one of 'A', 'B', 'C', "
                                         r"'D'; received category='E'"):
        read_clip_records(tmp_path)
    replace_in(tmp_path / "meta_data.csv", "rtvc,E,RealVideo-FakeAudio,African,men,00109_fake.mp4,"
               "FakeAVCeleb/RealVideo-FakeAudio", "rtvc,B,RealVideo-FakeAudio,African,men,00109_fake.mp4,"
               "FakeAVCeleb/RealVideo-RealAudio")
    with pytest.raises(ValueError, match=r"row 3: the folder of a category B clip must lie in "
                                         r"RealVideo-FakeAudio/ and name a file; received "
                                         r"folder='FakeAVCeleb/RealVideo-RealAudio/African/men/id00076'"):
        read_clip_records(tmp_path)
    write(tmp_path / "meta_data.csv", FAKEAVCELEB_HEADERS["v1.2"] + "\nid1,-,-,real,A,RealVideo-RealAudio\n")
    with pytest.raises(ValueError, match=r"row 2 must hold the file name and its folder in columns 9 and 10"):
        read_clip_records(tmp_path)


def lavdf_with(**changes):
    return [dict(LAVDF_ENTRIES[0], **changes), *LAVDF_ENTRIES[1:]]


@pytest.mark.parametrize("tree, message", [
    (lambda root: write(root / "metadata.json", "[{"), r"metadata.json is not valid UTF-8 JSON: "),
    (lambda root: lavdf_tree(root, entries=[{k: v for k, v in LAVDF_ENTRIES[0].items()
                                             if k != "modify_audio"}]),
     r"metadata.json entry 0 lacks the key 'modify_audio'; each entry needs 'file', 'split', 'fake_periods', "
     r"'modify_video', 'modify_audio' \(did you mean 'modify_video'\?\)"),
    (lambda root: lavdf_tree(root, entries=lavdf_with(modify_video="yes")),
     r"entry 0: `modify_video` must be true or false; received modify_video='yes'"),
    (lambda root: lavdf_tree(root, entries=lavdf_with(split="validation")),
     r"entry 0: `split` must be one of 'train', 'valid', 'val', 'dev', 'test'; received split='validation'"),
    (lambda root: lavdf_tree(root, entries=lavdf_with(fake_periods=[[1, float("nan")]])),
     r"entry 0: `fake_periods` must be a list of \[start_s, end_s\] pairs with 0 <= start_s <= end_s; "
     r"received fake_periods=\[\[1, nan\]\]"),
    (lambda root: write_json(root / "metadata.json", [None]),
     r"metadata.json entry 0 must be an object; received None"),
    (lambda root: avdeepfake1m_tree(root, {"train": [av1m_entry("a/real.mp4", "both-modified", [])]}),
     r"train_metadata.json entry 0: `modify_type` must be one of 'real', 'audio_modified', "
     r"'visual_modified', 'both_modified'; received modify_type='both-modified' "
     r"\(did you mean 'both_modified'\?\)"),
    (lambda root: avdeepfake1m_tree(root, {"extra": []}),
     r"extra_metadata.json: `subset` must be one of 'train', 'valid', 'val', 'dev', 'test'; received "
     r"subset='extra'"),
    (lambda root: dfdc_tree(root, {"part": {"a.mp4": {"label": "FAKES", "original": "b.mp4"}}}),
     r"part/metadata.json entry 'a.mp4': `label` must be one of 'REAL', 'FAKE'; received label='FAKES' "
     r"\(did you mean 'FAKE'\?\)"),
    (lambda root: dfdc_tree(root, {"part": {"a.mp4": {"label": "FAKE", "original": 3}}}),
     r"entry 'a.mp4': `original` must be a non-empty string \(a path\); received original=3"),
])
def test_bad_json_metadata_raise_naming_the_file_the_entry_and_the_key(tmp_path, tree, message):
    tree(tmp_path)
    with pytest.raises(ValueError, match=message):
        read_clip_records(tmp_path, skip_bad_files=True)


@pytest.mark.parametrize("arguments, message", [
    ({"layout": "lavd"}, r"`layout` must be one of 'auto', 'folder', 'fakeavceleb', 'lavdf', 'avdeepfake1m', "
                         r"'dfdc'; received layout='lavd' \(did you mean 'lavdf'\?\)"),
    ({"skip_bad_files": 1}, r"`skip_bad_files` must be True or False; received skip_bad_files=1"),
    ({"valid_fraction": 1}, r"`valid_fraction` must be a number in \[0, 1\); received valid_fraction=1"),
    ({"valid_fraction": 0.6, "test_fraction": 0.5},
     r"`valid_fraction` \+ `test_fraction` must be below 1 \(train keeps the rest\); received "
     r"valid_fraction=0.6 \+ test_fraction=0.5"),
    ({"layout": "lavdf"}, r"`root` must hold metadata.min.json or metadata.json \(a list of clips\) for "
                          r"layout='lavdf'; received root='.*', which does not"),
    ({"layout": "dfdc"}, r"`root` must hold metadata.json \(an object of clips\) in itself or in part "
                         r"folders"),
])
def test_bad_arguments_raise_naming_the_argument(tmp_path, arguments, message):
    folder_tree(tmp_path)
    (tmp_path / "metadata.json").unlink()
    with pytest.raises(ValueError, match=message):
        read_clip_records(tmp_path, **arguments)


def test_a_root_that_is_no_dataset_folder_raises_listing_the_accepted_layouts(tmp_path):
    touch(tmp_path, "plain/a.mp4")
    with pytest.raises(ValueError, match=r"`root` must be a dataset folder of a known layout; received "
                                         r"root='.*plain', which holds none of: labels.csv \(folder\); "
                                         r"meta_data.csv \(fakeavceleb\); .*\(dfdc\)$"):
        read_clip_records(tmp_path / "plain")
    with pytest.raises(ValueError, match=r"`root` must be a dataset folder; received root='.*a.mp4', which "
                                         r"is not a folder"):
        read_clip_records(tmp_path / "plain" / "a.mp4")
    folder_tree(tmp_path / "dataset")
    clips = read_clip_records(tmp_path / "dataset")
    with pytest.raises(ValueError, match=r"`split` must be one of 'train', 'valid', 'test'; received "
                                         r"split='val' \(did you mean 'valid'\?\)"):
        clips.split("val")
