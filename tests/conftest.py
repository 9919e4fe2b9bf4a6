import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# JAX compiles every op it runs eagerly, for each shape: a cache on disk, shared by the
# test workers and the `.keras` loader processes, saves most of that.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(Path(__file__).parents[1] / ".pytest_cache" / "jax"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from msa_tf import testing  # noqa: E402

if os.environ["KERAS_BACKEND"] != "tensorflow":
    # Mixed precision is Keras's dtype-policy logic, the same on every backend: the
    # TensorFlow run checks it. Its eager float16 and bfloat16 steps would double the
    # JAX run, which still checks calls, padding, gradients, fit and `.keras` files.
    testing.MIXED_POLICIES = ()


def pytest_collection_modifyitems(items):
    """Skips the tests marked `tensorflow_only(reason)` on any other Keras backend."""
    backend = os.environ["KERAS_BACKEND"]
    if backend == "tensorflow":
        return
    for item in items:
        marker = item.get_closest_marker("tensorflow_only")
        if marker is not None:
            item.add_marker(pytest.mark.skip(reason=f"KERAS_BACKEND={backend}: {marker.args[0]}"))


@pytest.fixture
def rng():
    return np.random.default_rng(0)
