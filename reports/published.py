"""The published numbers (docs/published.yaml, docs/published_newer.yaml) and the test of
whether a measured mean lies inside a published one."""

from __future__ import annotations

from pathlib import Path

import yaml

DOCS = Path(__file__).resolve().parents[1] / "docs"
# --published name -> (file, section of the file or None): docs/published_newer.yaml holds one
# section per source (scripts/extract_published.py --newer)
SOURCES = {
    "paper": (DOCS / "published.yaml", None),
    "newer": (DOCS / "published_newer.yaml", "eps_softmax"),  # last epoch, mean of 3
    "newer-best": (DOCS / "published_newer.yaml", "eps_softmax_best"),  # best epoch
    "jal": (DOCS / "published_newer.yaml", "jal_summary"),
}  # unconfirmed summary


def load_published(dataset: str, source: str = "paper") -> dict:
    """{kind: {loss: {rate: (mean, std or None)}}} of one source."""
    path, section = SOURCES[source]
    if not path.is_file():
        return {}
    doc = yaml.safe_load(path.read_text())
    return (doc.get(section, {}) if section else doc).get(dataset, {})


def tolerance(published) -> float | None:
    """The half-width of the band a measured mean must land in: 2 std (1 point where the
    published std is below 0.5); None where the source gives no std."""
    pub_std = published[1]
    if pub_std is None:
        return None
    return 2 * pub_std if pub_std >= 0.5 else 1.0


def outside(mean: float, published) -> bool:
    """Outside the published mean ± tolerance(); never where the source gives no std."""
    width = tolerance(published)
    # the band includes its edges: 49.38 - 47.08 is 2.3000000000000043 in floating point
    return width is not None and abs(mean - published[0]) > width + 1e-9
