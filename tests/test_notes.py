"""Every citation in the code (spec §N, defaults D<n>, bugs B<n>, source tags) has an entry in
docs/NOTES.md, so that it resolves inside the repository."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TAGS = r"SUB|INIT|HEAD|NB-\d+|ALFs|ANL|ER|EPS|JAL|PAPER"


def citations() -> set:
    found = set()
    for path in REPO.rglob("*.py"):
        if "tests" in path.relative_to(REPO).parts:
            continue
        text = path.read_text()
        found |= {("id", m) for m in re.findall(r"\b([DB]\d{1,2})\b", text)}
        found |= {("section", m) for m in re.findall(r"§(\d+(?:\.\d+)?)", text)}
        found |= {("tag", m) for m in re.findall(rf"\[({TAGS})\]", text)}
    return found


def explained(kind: str, cited: str, notes: str) -> bool:
    if kind == "id":
        return f"| {cited} |" in notes
    if kind == "tag":
        return f"[{cited}]" in notes
    # a section is the first cell of a row, alone or in a comma list: "| 3, 3.1, 3.2 |"
    return (
        re.search(rf"^\| (?:[\d.]+, )*{re.escape(cited)}(?:, [\d.]+)* \|", notes, re.M) is not None
    )


def test_every_citation_in_the_code_resolves_in_docs_notes():
    notes = (REPO / "docs" / "NOTES.md").read_text()
    cited = citations()
    assert len(cited) > 40  # the patterns still match how the code cites
    assert sorted(c for kind, c in cited if not explained(kind, c, notes)) == []
