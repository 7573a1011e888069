"""`download=True`: fetch the official files through torchvision, then read them with our readers.

This is the only place that talks to torchvision / the network. The class is looked up on
`torchvision.datasets` at call time, so tests can monkeypatch it with a fake that writes files.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from .base import DatasetError


def torchvision_download(class_name: str, root: Path) -> None:
    """Run `torchvision.datasets.<class_name>(root, train=..., download=True)` for both splits."""
    import torchvision.datasets

    cls = getattr(torchvision.datasets, class_name)
    Path(root).mkdir(parents=True, exist_ok=True)
    try:
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except Exception as e:  # network errors, md5 mismatches, ... (one line, with the cause)
        raise DatasetError(
            f"downloading {class_name} into {root} through torchvision failed: "
            f"{type(e).__name__}: {e}"
        ) from e


def via_torchvision(class_name: str) -> Callable[[Path], None]:
    return partial(torchvision_download, class_name)
