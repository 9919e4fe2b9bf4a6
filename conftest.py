"""Makes the names that docstring examples use available to pytest's doctests."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tiny test models gain nothing from intra-op threads; with two test workers on two cores
# (and the processes some tests start, which inherit this) one thread each is ~10% faster.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

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
