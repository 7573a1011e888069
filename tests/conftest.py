"""Shared fixtures. Real data: NLN_DATA_ROOT, else <repo>/../data, else it is unpacked once from
<repo>/../shared/data (prepare.py, ~10 s) into a cache folder in the temp dir."""
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


def pytest_configure(config):
    root = _find_or_prepare_real_data()
    if root is not None:
        os.environ["NLN_DATA_ROOT"] = str(root)


@pytest.fixture(scope="session")
def real_data_root():
    root = os.environ.get("NLN_DATA_ROOT")
    if not root:
        pytest.skip("no real data: set NLN_DATA_ROOT or place ../shared/data beside the repo")
    return Path(root)
