"""Token sequences as JSONL files: `write_jsonl` and `read_jsonl`.

A folder written by `write_jsonl` holds `metadata.json` (the generator's kind and
config, as a shards folder: see `generators.shards.read_metadata`) and, per split,
`{split}.jsonl`: one JSON object a line, the real tokens of one sequence, its labels
(the target at each position, `IGNORE_INDEX` = -100 where no loss applies) and its
metadata, cut to the real length:

    {"tokens": [9, 5, 9, 5], "labels": [5, 9, 5, -100], "pattern": [1, 1, 1, 1],
     "predictable": [false, false, true, true], "condition": -1, "family": "pattern"}

A file is written under `*.tmp` and renamed when complete, so a re-run skips complete
files and redoes partial ones. `read_jsonl` reads such a file, or one written by hand
with only `"tokens"` per line.

Example:
>>> import os, tempfile
>>> from generators.sequences import make_generator
>>> gen = make_generator("pattern", vocab_size=24, seq_length=8, num_samples=3)
>>> out = tempfile.mkdtemp()
>>> write_jsonl(gen, out, splits=["test"], progress=False)
{'written': 1, 'skipped': 0}
>>> [len(line["tokens"]) for line in read_jsonl(os.path.join(out, "test.jsonl"))]
[8, 8, 8]
"""

import json
import os

from tqdm import tqdm

from generators.multimodal import SPLITS
from generators.sequences import IGNORE_INDEX, SequenceGenerator
from generators.shards import folder_metadata, write_metadata
from generators.validation import check_choice, check_int, check_path, invalid, is_integer

ACCEPTED_LINE = 'a JSON object with a "tokens" list, e.g. {"tokens": [5, 9, 7]}'
ACCEPTED_TOKENS = "a non-empty list of integers >= 0"
_MAX_SHOWN = 80  # characters of a bad value shown in an error


def jsonl_path(directory, split):
    return os.path.join(directory, f"{split}.jsonl")


def _shown(value):
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN - 3] + "..."


def _bad_line(path, number, name, value, accepted, why=""):
    return ValueError(f"{path}, line {number}: `{name}` must be {accepted}; received "
                      f"{name}={_shown(value)}{why}")


def _check_line(path, number, raw):
    """The dict of one line (bytes) of `path`, or a `ValueError` naming file, line and value."""
    try:
        line = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise _bad_line(path, number, "line", raw.rstrip(b"\r\n"), ACCEPTED_LINE,
                        f" (not UTF-8: {error.reason})") from None
    except json.JSONDecodeError as error:
        raise _bad_line(path, number, "line", raw.decode("utf-8").strip(), ACCEPTED_LINE,
                        f" (not JSON: {error.msg})") from None
    if not isinstance(line, dict) or "tokens" not in line:
        raise _bad_line(path, number, "line", line, ACCEPTED_LINE)
    tokens = line["tokens"]
    if not isinstance(tokens, list) or not tokens:
        raise _bad_line(path, number, "tokens", tokens, ACCEPTED_TOKENS)
    for index, token in enumerate(tokens):
        if not is_integer(token) or token < 0:
            raise _bad_line(path, number, f"tokens[{index}]", token, "an integer >= 0")
    for key in ("labels", "pattern", "predictable"):
        if key in line and (not isinstance(line[key], list) or len(line[key]) != len(tokens)):
            raise _bad_line(path, number, key, line[key],
                            f"a list as long as `tokens` ({len(tokens)} items)")
    for index, label in enumerate(line.get("labels", ())):
        if not is_integer(label) or (label < 0 and label != IGNORE_INDEX):
            raise _bad_line(path, number, f"labels[{index}]", label,
                            f"an integer >= 0, or {IGNORE_INDEX} where no loss applies")
    return line


def read_jsonl(path):
    """Iterates the dicts of a JSONL file of token sequences, one a line.

    Each line is a JSON object with `"tokens"`, a non-empty list of integers >= 0,
    and optionally what `write_jsonl` adds: `"labels"` (integers >= 0 or
    `IGNORE_INDEX`), `"pattern"` and `"predictable"` (lists as long as `"tokens"`),
    `"condition"` and `"family"`. Blank lines are skipped.
    A malformed line raises `ValueError` naming the file, the line number, the bad
    value and what is accepted.
    """
    path = check_path("path", path, "a JSONL file", must_be="file")
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield _check_line(path, number, raw)


def _lines(generator, split, block_size):
    """The JSON lines of `split`, a block (list of str) at a time."""
    family = generator.family
    for batch in generator.batches(split, block_size):
        tokens, mask, labels, pattern, predictable, condition = (
            batch[key].numpy()
            for key in ("tokens", "tokens_mask", "labels", "pattern", "predictable", "condition"))
        lines = []
        for row in range(len(tokens)):
            real = mask[row]
            lines.append(json.dumps({
                "tokens": tokens[row, real].tolist(), "labels": labels[row, real].tolist(),
                "pattern": pattern[row, real].tolist(),
                "predictable": predictable[row, real].tolist(), "condition": int(condition[row]),
                "family": family,
            }, separators=(",", ":")) + "\n")
        yield lines


def write_jsonl(generator, directory, splits=("train", "valid", "test"), progress=True, block_size=256):
    """Writes `generator.num_samples` sequences per split to `{split}.jsonl` in `directory`.

    Returns `{"written": files written now, "skipped": complete files found}`. Memory
    stays flat: sequences stream to the file in blocks of `block_size`.
    """
    if not isinstance(generator, SequenceGenerator):
        raise invalid("generator", generator, "a SequenceGenerator (generators.sequences.make_generator)")
    directory = check_path("directory", directory, "a folder for the JSONL files")
    if generator.num_samples is None:
        raise invalid("num_samples", None, "a number to write JSONL files")
    check_int("block_size", block_size)
    for split in splits:
        check_choice("split", split, tuple(SPLITS))
    write_metadata(directory, folder_metadata(generator, "jsonl"))
    written = skipped = 0
    for split in splits:
        path = jsonl_path(directory, split)
        if os.path.exists(path):
            skipped += 1
            continue
        with tqdm(total=generator.num_samples, desc=split, unit="seq", disable=not progress) as bar, \
                open(path + ".tmp", "w", encoding="utf-8") as handle:
            for lines in _lines(generator, split, min(block_size, generator.num_samples)):
                handle.writelines(lines)
                bar.update(len(lines))
        os.replace(path + ".tmp", path)
        written += 1
    return {"written": written, "skipped": skipped}

