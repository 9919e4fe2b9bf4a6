"""Makes the names that docstring examples use available to pytest's doctests."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tiny test models gain nothing from intra-op threads; with two test workers on two cores
# (and the processes some tests start, which inherit this) one thread each is ~10% faster.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
# The tests compile tiny graphs with XLA to check that they compile and train, not to
# time them: LLVM's optimisation passes are most of the compile time and add nothing to
# those checks (a msa model's XLA fit step: 8.6 s with them, 6.3 s without).
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    import generators
    import msa_tf.layers

    doctest_namespace["np"] = np
    for name in generators.__all__:
        doctest_namespace[name] = getattr(generators, name)
    for name in msa_tf.layers.__all__:
        doctest_namespace[name] = getattr(msa_tf.layers, name)


# Test files with the longest tests (a minute or more each): run first, so that the two
# workers of `make test` end together instead of one waiting on a long test at the end.
LONG_FIRST = (
    "tests/models/msa/test_zoo.py",
    "tests/models/sequence/test_learning.py",
    "tests/training/test_runner.py",
    "tests/models/msa/test_mult.py",
    "tests/test_notebooks.py",
    "tests/test_examples.py",
)


def pytest_collection_modifyitems(items):
    def rank(item):
        path = item.nodeid.split("::")[0]
        return LONG_FIRST.index(path) if path in LONG_FIRST else len(LONG_FIRST)

    items.sort(key=rank)  # stable: each file keeps its order and stays in one piece
