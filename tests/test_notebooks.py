"""The notebooks are stored executed (`make notebooks`), and run top to bottom at small settings."""

import math
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "notebooks" / "01_msa_quickstart.ipynb"
SEQUENCES = ROOT / "notebooks" / "02_sequences.ipynb"
PATTERN_TYPES = ("repetition", "alternation", "progression", "reversal")

SMALL_PARAMETERS = """
NUM_SAMPLES = 64
EPOCHS = 2
BATCH_SIZE = 16
MODEL_DIM = 8
PRESET = "mosi"
GENERATOR_OVERRIDES = {{"text_dim": 6, "audio_dim": 4, "vision_dim": 3, "max_length": 6, "min_length": 2}}
OUT_DIR = {out_dir!r}
JIT_COMPILE = False
"""


def _parameters_cell(notebook):
    cells = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(cells) == 1, "a notebook needs exactly one cell tagged `parameters`"
    return cells[0]


def _stream_text(notebook):
    return "".join(
        output.get("text", "")
        for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.get("outputs", []) if output.output_type == "stream"
    )


def _images(notebook):
    return [output for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.outputs if "image/png" in output.get("data", {})]


def _read_stored_executed(path):
    """The notebook at `path`, checked to be stored run top to bottom without errors."""
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), \
        "run it top to bottom with `make notebooks`"
    assert not [output for cell in code for output in cell.outputs if output.output_type == "error"]
    parameters = _parameters_cell(notebook).source
    assert all("=" in line for line in parameters.splitlines() if line.strip())
    return notebook


def _execute(notebook):
    """Runs `notebook` in place in a fresh kernel, from the repository root."""
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()  # raises CellExecutionError if any cell fails


def test_quickstart_is_stored_executed_with_its_results_and_plots():
    notebook = _read_stored_executed(QUICKSTART)
    assert len(_images(notebook)) == 2, "the training curves and the predictions"
    text = _stream_text(notebook)
    correlation = float(re.search(r"Pearson correlation on the test split: (\S+)", text).group(1))
    assert correlation > 0.8, "the stored run is the full-settings one"


@pytest.fixture
def kernel_env(monkeypatch):
    # The kernel inherits the environment; "python" in the python3 kernel spec becomes
    # this process's sys.executable (jupyter_client), so the kernel runs in this venv.
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")


def test_quickstart_runs_trains_and_exports(tmp_path, kernel_env):
    notebook = nbformat.read(QUICKSTART, as_version=4)
    _parameters_cell(notebook).source = SMALL_PARAMETERS.format(out_dir=str(tmp_path)).strip()
    notebook.cells.append(nbformat.v4.new_code_cell("import sys; print('kernel python:', sys.executable)"))

    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()  # raises CellExecutionError if any cell fails

    text = _stream_text(notebook)
    kernel_python = re.search(r"kernel python: (.+)", text).group(1).strip()
    assert Path(kernel_python).resolve() == Path(sys.executable).resolve()
    correlation = float(re.search(r"Pearson correlation on the test split: (\S+)", text).group(1))
    assert math.isfinite(correlation) and -1 <= correlation <= 1
    # The metrics table has a row per metric; the model is scored next to the mean predictor.
    assert re.search(r"^mae\s+[\d.]+\s+[\d.]+$", text, re.M), text
    assert "model.keras gives the same predictions" in text
    assert "serve endpoint gives the same predictions" in text

    for name in ("history.png", "predictions.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "model.keras").stat().st_size > 0
    assert (tmp_path / "saved_model" / "saved_model.pb").is_file()
    images = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if "image/png" in output.get("data", {})]
    assert len(images) == 2


SEQUENCES_SMALL_PARAMETERS = """
FAMILY = "pattern"
VOCAB_SIZE = 32
SEQ_LENGTH = 32
NUM_SAMPLES = 128
GENERATOR_OVERRIDES = {{"pattern_probability": 1.0}}
SEED = 0
EPOCHS = 1
BATCH_SIZE = 32
LEARNING_RATE = 0.005
WIDTH = 16
NUM_HEADS = 2
NUM_LAYERS = 1
OUT_DIR = {out_dir!r}
JIT_COMPILE = False
"""
SEQUENCES_PNGS = ("rank_frequency.png", "lengths.png", "entropy.png", "complexity.png", "history.png",
                  "token_accuracy.png")


def _pattern_accuracies(text):
    lines = re.findall(r"^accuracy at (\w+) positions: (\S+)", text, re.M)
    return {name: float(value) for name, value in lines}


def test_sequences_notebook_is_stored_executed_with_a_model_that_learned_the_patterns():
    notebook = _read_stored_executed(SEQUENCES)
    assert len(_images(notebook)) == len(SEQUENCES_PNGS), "the analysis (4), history, accuracy by position"
    text = _stream_text(notebook)
    assert "problems: none" in text
    accuracies = _pattern_accuracies(text)
    assert sorted(accuracies) == sorted(PATTERN_TYPES), text
    assert min(accuracies.values()) >= 0.9, ("the stored run is the full-settings one", accuracies)
    # After a repetition's motif, greedy decoding repeats it: in the example shown, and in most prompts.
    shown = re.search(r"^repetition +prompt .* -> ([\d ]+) \(test: ([\d ]+)\); (\d+) of (\d+) continuations",
                      text, re.M)
    continuation, truth, follow, prompts = shown.groups()
    assert continuation == truth and int(follow) >= 0.75 * int(prompts), shown.group(0)


def test_sequences_notebook_runs_trains_and_samples(tmp_path, kernel_env):
    notebook = nbformat.read(SEQUENCES, as_version=4)
    _parameters_cell(notebook).source = SEQUENCES_SMALL_PARAMETERS.format(out_dir=str(tmp_path)).strip()
    _execute(notebook)

    text = _stream_text(notebook)
    assert "problems: none" in text
    assert re.search(r"test sequences also in the training split: [\d.]+", text)
    # The metrics table: a row per metric, the model next to the bigram baseline.
    for metric in ("accuracy", "cross_entropy", "perplexity"):
        assert re.search(rf"^{metric}\s+[\d.]+\s+[\d.]+$", text, re.M), text
    accuracies = _pattern_accuracies(text)
    assert sorted(accuracies) == sorted(PATTERN_TYPES), text
    assert all(0 <= value <= 1 for value in accuracies.values())
    assert len(re.findall(r"continuations follow the pattern", text)) == len(PATTERN_TYPES)
    for name in SEQUENCES_PNGS:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(_images(notebook)) == len(SEQUENCES_PNGS)


IMAGE_MASK = ROOT / "notebooks" / "03_image_mask.ipynb"
IMAGE_MASK_SMALL_PARAMETERS = """
SCENE = "lesions"
IMAGE_SIZE = 32
NUM_SAMPLES = 32
EPOCHS = 1
BATCH_SIZE = 16
BASE_FILTERS = 8
VARIATIONS = 2
MASKS = 2
MIN_QUALITY = 0.0
REFERENCE_STEPS = 20
SEED = 0
OUT_DIR = {out_dir!r}
JIT_COMPILE = False
"""
IMAGE_MASK_PNGS = ("data.png", "run/gan_losses.png", "run/samples.png", "synthetic/samples.png",
                   "synthetic/scores.png")


def _kept(text):
    kept, generated = re.search(r"^kept (\d+) of (\d+) pairs", text, re.M).groups()
    return int(kept), int(generated)


def test_image_mask_notebook_is_stored_executed_with_kept_pairs():
    notebook = _read_stored_executed(IMAGE_MASK)
    assert len(_images(notebook)) == len(IMAGE_MASK_PNGS)
    text = _stream_text(notebook)
    kept, generated = _kept(text)
    assert generated == 48 and 0 < kept < generated, ("the stored run is the full-settings one", text)
    # The filter keeps the pairs whose mask the reference segmenter finds in the image.
    kept_iou, all_iou = map(float, re.search(r"^mean iou +kept (\S+) +all (\S+)", text, re.M).groups())
    assert kept_iou > all_iou


def test_image_mask_notebook_trains_synthesizes_and_scores(tmp_path, kernel_env):
    notebook = nbformat.read(IMAGE_MASK, as_version=4)
    _parameters_cell(notebook).source = IMAGE_MASK_SMALL_PARAMETERS.format(out_dir=str(tmp_path)).strip()
    _execute(notebook)

    text = _stream_text(notebook)
    for metric in ("l1", "ssim", "kid", "iou"):
        assert re.search(rf"^{metric}\s+[\d.]+\s+[\d.]+$", text, re.M), text
    assert _kept(text) == (4, 4)  # MIN_QUALITY 0 keeps every pair
    assert len(list((tmp_path / "synthetic" / "images").iterdir())) == 4
    for name in IMAGE_MASK_PNGS:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(_images(notebook)) == len(IMAGE_MASK_PNGS)


AV_DEEPFAKE = ROOT / "notebooks" / "04_av_deepfake.ipynb"
AV_DEEPFAKE_SMALL_PARAMETERS = """
NUM_TRAIN = 16
NUM_TEST = 12
IMAGE_SIZE = 48
DURATION = 0.8
NUM_FRAMES = 4
FACE_SIZE = 32
N_MELS = 16
EPOCHS = 1
BATCH_SIZE = 8
WIDTH = 16
SEED = 0
OUT_DIR = {out_dir!r}
JIT_COMPILE = False
"""


def _test_auc(text):
    return float(re.search(r"^test AUC (\S+), EER (\S+)", text, re.M).group(1))


def test_av_deepfake_notebook_is_stored_executed_with_a_detector_that_finds_the_fakes():
    notebook = _read_stored_executed(AV_DEEPFAKE)
    assert len(_images(notebook)) == 3, "the clips, the ROC and the training curves"
    text = _stream_text(notebook)
    assert _test_auc(text) >= 0.8, "the stored run is the full-settings one"
    flagged = {category: (int(found), int(total)) for category, found, total
               in re.findall(r"^category (\w): (\d+) of (\d+) clips flagged", text, re.M)}
    assert all(flagged[c][0] >= 0.9 * flagged[c][1] for c in "BCD"), flagged  # fake faces and voices
    assert flagged["A"][0] <= 0.2 * flagged["A"][1], flagged  # few real clips flagged


def test_av_deepfake_notebook_generates_trains_and_draws_the_roc(tmp_path, kernel_env):
    notebook = nbformat.read(AV_DEEPFAKE, as_version=4)
    _parameters_cell(notebook).source = AV_DEEPFAKE_SMALL_PARAMETERS.format(out_dir=str(tmp_path)).strip()
    _execute(notebook)

    text = _stream_text(notebook)
    assert re.search(r"^\d+ clips pre-extracted; faces found in \d+", text, re.M), text
    for metric in ("auc", "eer", "fpr_at_95_tpr"):
        assert re.search(rf"^{metric}\s+[\d.]+\s+[\d.]+$", text, re.M), text
    assert 0 <= _test_auc(text) <= 1
    flagged = re.findall(r"^category (\w): (\d+) of (\d+) clips flagged", text, re.M)
    assert sum(int(total) for _, _, total in flagged) == 12
    for name in ("clips.png", "run/roc.png", "run/history.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(_images(notebook)) == 3
