"""docs/LOSSES.md is generated from the registry (scripts/loss_catalogue.py) and is current; the
check notices a stale page; the page covers every loss and every config, and what it reads
from tests/test_official.py and the classes is what they say."""

import re

import pytest

from losses import LOSSES
from scripts import loss_catalogue

ROOT = loss_catalogue.ROOT


@pytest.fixture(scope="module")
def rendered():
    return loss_catalogue.render()


def test_docs_losses_md_is_current(rendered):
    assert rendered == loss_catalogue.OUT.read_text(), (
        "docs/LOSSES.md is out of date: run python scripts/loss_catalogue.py"
    )


def test_the_check_fails_on_a_stale_page_and_passes_on_a_current_one(
    rendered, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(loss_catalogue, "render", lambda: rendered)
    page = tmp_path / "docs" / "LOSSES.md"
    page.parent.mkdir()
    monkeypatch.setattr(loss_catalogue, "OUT", page)
    monkeypatch.setattr(loss_catalogue, "ROOT", tmp_path)
    page.write_text(rendered.replace("s log p_y / sum_k log p_k", "a formula edited by hand"))
    assert loss_catalogue.main(["--check"]) == 1 and "out of date" in capsys.readouterr().out
    assert loss_catalogue.main([]) == 0 and page.read_text() == rendered
    assert loss_catalogue.main(["--check"]) == 0


def test_every_registered_loss_has_a_row_and_a_section(rendered):
    sections = re.findall(r"^## (\S+)$", rendered, re.M)
    assert sections == sorted(LOSSES)
    rows = re.findall(r"^\| \[`([^`]+)`\]", rendered, re.M)
    assert rows == sorted(LOSSES)


def summary_row(rendered: str, name: str) -> list:
    line = next(li for li in rendered.splitlines() if li.startswith(f"| [`{name}`]"))
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def test_summary_numbers_and_verdicts(rendered):
    """Documented class-sums at K = 10 by hand: NCE+RCE 1 + 9.2103 * 9, MAE 9, ANL-CE 1 + 9."""
    assert summary_row(rendered, "nce+rce")[2:] == ["83.8931", "symmetric", "yes"]
    assert summary_row(rendered, "mae")[2:] == ["9", "symmetric", "yes"]
    assert summary_row(rendered, "anl-ce")[2:] == ["10", "symmetric", "no"]
    assert summary_row(rendered, "ce")[2:] == ["not constant", "not symmetric", "yes"]
    assert summary_row(rendered, "nlnl")[2:] == ["not defined", "undetermined (random)", "yes"]
    assert summary_row(rendered, "dmi")[2:] == ["not defined", "n/a: one value per batch", "yes"]


def test_every_config_is_listed_once_with_its_loss_settings(rendered):
    configs = [p for p in (ROOT / "configs").rglob("*.yaml") if "base" not in p.parts]
    cells = [
        re.split(r"(?<!\\)\|", line)[1:-1]
        for line in rendered.splitlines()
        if line.startswith("| `")
    ]
    labels = [row[0].strip().strip("`") for row in cells if len(row) == 2]  # config | settings
    assert sorted(labels) == sorted(
        str(p.relative_to(ROOT / "configs").with_suffix("")) for p in configs
    )
    assert "| `mnist/sym/nce+rce` | alpha 1; beta 10 |" in rendered  # D14
    assert "| `webvision_mini/nce+rce` | alpha 50; beta 0.1 |" in rendered  # spec §4.5


def test_the_losses_compared_with_the_authors_code_are_read_from_its_tests():
    """The names of tests/test_official.py's parametrisations, as written there."""
    checks = loss_catalogue.authors_checks()
    config_losses = [
        "ce",
        "sce",
        "nce",
        "mae",
        "gce",
        "rce",
        "fl",
        "nfl",
        "ngce",
        "nce+rce",
        "nce+mae",
        "nfl+rce",
        "nfl+mae",
        "gce+mae",
        "gce+rce",
        "gce+nce",
        "mae+rce",
        "nfl+nce",
        "ngce+nce",
        "ngce+mae",
        "ngce+rce",
        "dmi",
    ]
    assert set(checks) == set(config_losses) | {"nmae", "nrce", "nlnl", "focal"}
    assert len(checks["nmae"]) == 1 and checks["nlnl"] == [
        loss_catalogue.AUTHORS_TESTS[
            "test_nlnl_equals_the_authors_negative_term_with_the_same_complementary_labels"
        ]
    ]


def test_a_class_attribute_reaches_the_page(monkeypatch):
    from losses import NormalizedCrossEntropy

    monkeypatch.setattr(NormalizedCrossEntropy, "FORMULA", "edited")
    monkeypatch.setattr(NormalizedCrossEntropy, "SOURCE", "somewhere")
    section = "\n".join(loss_catalogue.section("nce", ("1", "symmetric"), [], []))
    assert "`nce`: edited" in section and "* source: somewhere" in section
    assert "| `scale` | 1.0 | [0, inf) |" in section
