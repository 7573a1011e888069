"""Shared fixtures. Real data (the `real_data_root` fixture, prepared lazily): NLN_DATA_ROOT, else
<repo>/../data, else it is unpacked once from <repo>/../shared/data (prepare.py, ~10 s) into a
cache folder in the temp dir."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PREPARE = REPO.parent / "shared" / "data" / "prepare.py"


def _find_or_prepare_real_data():
    env = os.environ.get("NLN_DATA_ROOT")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "data"]:
        if (candidate / "MNIST" / "raw").is_dir():
            return candidate
    if not PREPARE.is_file():
        return None
    cache = Path(tempfile.gettempdir()) / "nln-real-data"
    done = subprocess.run([sys.executable, str(PREPARE), str(cache)], capture_output=True)
    return cache if done.returncode == 0 else None


@pytest.fixture(scope="session")
def real_data_root():
    """The real data root, found (or unpacked, ~10 s) the first time a test asks for it: a run
    of the fast tier, which asks for none, pays nothing."""
    root = _find_or_prepare_real_data()
    if root is None:
        pytest.skip("no real data: set NLN_DATA_ROOT or place ../shared/data beside the repo")
    os.environ["NLN_DATA_ROOT"] = str(root)  # for the trainings the tests start as processes
    return root


# Kinds of long tests (and any test of real data): each is also `slow`, so `-m "not slow"` leaves them all out and
# `-m distributed` (say) runs one kind. Registered in pytest.ini.
SLOW_KINDS = ("e2e", "distributed", "reliability", "real_data")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "real_data_root" in getattr(item, "fixturenames", ()) or any(
            item.get_closest_marker(kind) for kind in SLOW_KINDS
        ):
            item.add_marker(pytest.mark.slow)


# A tiny MNIST tree (192 train / 64 test, 6 steps of 32 per epoch) and a small NCE+RCE config,
# one of each per test module (test_reliability.py, test_usability.py).
@pytest.fixture(scope="module")
def root(tmp_path_factory):
    import fake_data

    return fake_data.write_fake_mnist(tmp_path_factory.mktemp("data"), n_train=192, n_test=64)


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    from helpers import write_config

    return write_config(tmp_path_factory.mktemp("cfg") / "c.yaml")
