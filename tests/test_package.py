"""The installable library `activepassive` (pyproject.toml): losses/, noise/ and models/ under one
namespace, torch and numpy its only requirements, and README's example running against it.

Fast tier: the mapping in pyproject.toml, the imports of the mapped folders, and README's
example run against the installed layout (the package-dir mapping reproduced with links, in a
process started outside the repository). Slow tier: the wheel itself is built, installed into a
fresh virtual environment (system site packages for the pinned torch, no index: nothing can be
downloaded), imported from a folder outside the repository and compared with this checkout;
and `pip install -e .` of a copy of the checkout.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib
import torch

from losses import LOSSES, build_loss
from noise import labels_hash, make_noisy_labels

REPO = Path(__file__).resolve().parents[1]
NAME = "activepassive"
SUBPACKAGES = {"losses", "noise", "models"}
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def package_dirs() -> dict:
    return PYPROJECT["tool"]["setuptools"]["package-dir"]


def test_pyproject_maps_exactly_the_three_folders_under_one_namespace():
    assert package_dirs() == {NAME: f"src/{NAME}", **{f"{NAME}.{p}": p for p in SUBPACKAGES}}
    assert sorted(PYPROJECT["tool"]["setuptools"]["packages"]) == sorted(package_dirs())
    assert [re.split(r"[<>=!~ ;]", d)[0] for d in PYPROJECT["project"]["dependencies"]] == [
        "torch",
        "numpy",
    ]
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    assert (REPO / "src" / NAME / "py.typed").is_file()


def absolute_imports(path: Path) -> set:
    """Top-level names of the absolute imports of a file (relative imports stay inside)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_the_installed_folders_import_only_torch_numpy_and_the_standard_library():
    """torchvision only in models.tv_resnet50, imported there on use with a clear message."""
    found = {}
    for folder in SUBPACKAGES | {f"src/{NAME}"}:
        for path in (REPO / folder).glob("*.py"):
            outside = absolute_imports(path) - set(sys.stdlib_module_names) - {"torch", "numpy"}
            if outside:
                found[str(path.relative_to(REPO))] = sorted(outside)
    assert found == {"models/__init__.py": ["torchvision"]}


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## Use the losses in your own code", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def installed_layout(root: Path) -> Path:
    """The package as the wheel lays it out (pyproject's package-dir), made of links."""
    for package, folder in sorted(package_dirs().items()):
        target = root.joinpath(*package.split("."))
        if package == NAME:
            target.mkdir(parents=True)
            for item in (REPO / folder).iterdir():
                (target / item.name).symlink_to(item)
        else:
            target.symlink_to(REPO / folder, target_is_directory=True)
    return root


def run_python(code: str, cwd: Path, python=sys.executable, pythonpath: Path | None = None):
    env = {k: v for k, v in ENV.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    done = subprocess.run(
        [python, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


# Run in the installed package, outside the repository: which modules are importable, and the
# README example's printout.
CHECK_LAYOUT = """
import importlib.util, activepassive, activepassive.losses as L
print(activepassive.__version__, L.__file__)
print(sorted(m for m in ("losses", "noise", "models", "datasets", "engine")
             if importlib.util.find_spec(m)))
"""


def layout_and_readme(python, outside: Path, pythonpath: Path | None = None) -> str:
    """Run CHECK_LAYOUT, then README's example, in one process (one torch import); check what
    the example prints and return the line with the version and the file of the losses."""
    output = run_python(CHECK_LAYOUT + readme_example(), outside, python, pythonpath)
    version, names, accuracy, verdict = output.strip().splitlines()
    assert names == "[]"  # no top-level losses, noise, models, datasets or engine
    assert float(accuracy.removeprefix("accuracy on the clean labels: ")) >= 0.9
    assert verdict.startswith("symmetric: the class-sum is constant, 83.89")  # 1 + 9.21 * 9
    return version


def test_readme_example_runs_against_the_installed_layout(tmp_path):
    layout = installed_layout(tmp_path / "site")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    version = layout_and_readme(sys.executable, outside, pythonpath=layout)
    assert version.startswith("0.") and str(layout / NAME / "losses") in version


# --------------------------------------------------------------------------- the real wheel
def copy_checkout(dest: Path) -> Path:
    """The checkout without its data, runs, caches and build outputs."""
    ignore = shutil.ignore_patterns(
        ".git",
        "data",
        "runs",
        "outputs",
        "__pycache__",
        "build",
        "dist",
        "*.egg-info",
        ".pytest_cache",
        ".ruff_cache",
    )
    shutil.copytree(REPO, dest, ignore=ignore, symlinks=True)
    return dest


def pip(*args, cwd: Path):
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


def fresh_venv(path: Path) -> Path:
    """A virtual environment that sees the pinned torch and numpy of this interpreter (system
    site packages) and has no pip of its own: pip is run from outside with --python."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(path)],
        check=True,
        timeout=120,
    )
    return path / "bin" / "python"


def expected_wheel_files(version: str) -> set:
    files = {f"{NAME}/__init__.py", f"{NAME}/py.typed"}
    for sub in SUBPACKAGES:
        files |= {f"{NAME}/{sub}/{p.name}" for p in (REPO / sub).glob("*.py")}
    info = f"{NAME}-{version}.dist-info"
    return files | {
        f"{info}/{n}" for n in ("METADATA", "WHEEL", "RECORD", "top_level.txt", "licenses/LICENSE")
    }


def requirements(metadata: str) -> list:
    return [
        line.split(": ", 1)[1]
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist: ")
    ]


# In the fresh environment, outside the repository: every loss built, a few values and a noise
# draw for comparison with the checkout.
CHECK_WHEEL = """
import json, sys, torch
from activepassive.losses import LOSSES, build_loss
from activepassive.noise import labels_hash, make_noisy_labels
z = torch.tensor(json.loads(sys.argv[1]), dtype=torch.float64)
y = torch.arange(z.shape[0]) % 10
values = {}
for name in sorted(LOSSES):
    torch.manual_seed(0)
    values[name] = build_loss(name, 10)(z, y).item()
noisy = make_noisy_labels(list(range(10)) * 50, "asymmetric", 0.4, 10, dataset="cifar10", seed=123)
print(json.dumps({"values": values, "noise": labels_hash(noisy.labels)}))
"""


def checkout_values(logits: torch.Tensor) -> dict:
    y = torch.arange(logits.shape[0]) % 10
    values = {}
    for name in sorted(LOSSES):
        torch.manual_seed(0)
        values[name] = build_loss(name, 10)(logits, y).item()
    noisy = make_noisy_labels(
        list(range(10)) * 50, "asymmetric", 0.4, 10, dataset="cifar10", seed=123
    )
    return {"values": values, "noise": labels_hash(noisy.labels)}


@pytest.mark.slow
def test_the_wheel_installs_alone_in_a_fresh_environment_and_matches_the_checkout(tmp_path):
    source = copy_checkout(tmp_path / "checkout")
    pip(
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(tmp_path / "dist"),
        ".",
        cwd=source,
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    version = wheel.name.split("-")[1]
    with zipfile.ZipFile(wheel) as archive:
        assert set(archive.namelist()) == expected_wheel_files(version)
        metadata = archive.read(f"{NAME}-{version}.dist-info/METADATA").decode()
    assert [re.split(r"[<>=!~ ;]", r)[0] for r in requirements(metadata)] == ["torch", "numpy"]

    python = fresh_venv(tmp_path / "venv")
    # --no-index: the requirements must be met by what is installed; nothing is downloaded
    pip("--python", str(python), "install", "--no-index", "-q", str(wheel), cwd=tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    version_line = layout_and_readme(python, outside)
    assert version_line.startswith(version) and str(tmp_path / "venv") in version_line
    logits = 4 * torch.randn(
        20, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    done = subprocess.run(
        [str(python), "-c", CHECK_WHEEL, json.dumps(logits.tolist())],
        cwd=outside,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == checkout_values(logits)


@pytest.mark.slow
def test_an_editable_install_maps_the_namespace_onto_the_checkout(tmp_path):
    source = copy_checkout(tmp_path / "checkout")
    python = fresh_venv(tmp_path / "venv")
    pip(
        "--python",
        str(python),
        "install",
        "--no-index",
        "--no-build-isolation",
        "-q",
        "-e",
        str(source),
        cwd=tmp_path,
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    output = run_python(CHECK_LAYOUT, outside, python=python)
    assert output.splitlines()[1:] == ["[]"]
    assert str(source / "losses" / "__init__.py") in output.splitlines()[0]
