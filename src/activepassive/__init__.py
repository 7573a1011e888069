"""activepassive: this project's losses and label-noise models as an installable library.

    pip install .                                  # from a checkout (or a git URL, README.md)
    from activepassive.losses import build_loss, check_symmetry
    from activepassive.noise import make_noisy_labels
    from activepassive.models import build_model

The three subpackages are the repository's top-level folders losses/, noise/ and models/,
mapped into this namespace by pyproject.toml (`package-dir`), so a checkout keeps its layout
and `python train.py` its imports. Only this file and py.typed live here, under src/ so that a
checkout's working directory never shadows the installed package with a half-empty one.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

SUBPACKAGES = ("losses", "noise", "models")


def __getattr__(name: str):
    # `import activepassive; activepassive.losses` works without importing torch up front.
    if name in SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["__version__", *SUBPACKAGES]
