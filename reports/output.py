"""The folder reports are written into, and the one error a report raises."""

from __future__ import annotations

import json
from pathlib import Path

MANIFEST = ".tables-written.json"


class ReportError(Exception):
    """A user error: the commands print it as one line and exit 2."""


class OutputFolder:
    """The output folder, with a manifest of the files the report commands wrote there: those
    may be rewritten; any other existing file (a committed table, someone's notes) only with
    `overwrite`."""

    def __init__(self, folder: Path, overwrite: bool):
        self.folder, self.overwrite = Path(folder), overwrite
        if self.folder.exists() and not self.folder.is_dir():
            raise ReportError(f"--out {self.folder} is a file, not a folder; choose a folder")
        manifest = self.folder / MANIFEST
        try:
            self.written = set(json.loads(manifest.read_text())) if manifest.is_file() else set()
        except json.JSONDecodeError:
            raise ReportError(
                f"{manifest} is not valid JSON; delete it (the report commands "
                f"then treat every file there as not theirs)"
            ) from None

    def claim(self, name: str) -> Path:
        path = self.folder / name
        if path.exists() and name not in self.written and not self.overwrite:
            raise ReportError(
                f"{path} exists and was not written by scripts/tables.py (not in "
                f"{self.folder / MANIFEST}); choose another --out, or pass "
                f"--overwrite to replace it"
            )
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if name not in self.written:
                self.written.add(name)
                (self.folder / MANIFEST).write_text(json.dumps(sorted(self.written), indent=1))
        except OSError as e:
            raise ReportError(
                f"cannot write in --out {self.folder} ({e.strerror}); choose a writable folder"
            ) from None
        return path

    def write_text(self, name: str, text: str) -> Path:
        path = self.claim(name)
        path.write_text(text)
        return path
