"""Executes notebooks at their own (full) settings and stores them with their outputs.

Usage: python notebooks/execute.py notebooks/*.ipynb   (what `make notebooks` runs)

Each notebook runs top to bottom in a fresh kernel of this Python, from the repository
root, and is written back in place with its outputs and plots, so that a reader sees
the results without running anything. A failing cell stops with the cell's error and
leaves the file as it was. The tests execute the same notebooks at small settings.
"""

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def execute(path):
    """Runs the notebook at `path` and writes it back with its outputs."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=1800, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    nbformat.write(notebook, path)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in sys.argv[1:]:
        print(f"executing {name}", flush=True)
        execute(name)
