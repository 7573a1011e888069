"""scripts/compare_official.py over reports/side_by_side.py: the three-column report and its
verdicts, on hand-made runs."""

import json
from pathlib import Path

from engine.record import read_run
from engine.settle import read_settled, stop_settled
from reports import figures, recipes
from reports import side_by_side as sbs
from reports.output import OutputFolder
from reports.published import load_published, outside, tolerance
from scripts import compare_official, tables


def write_run(root: Path, kind, setting, loss, seed, curve, schedule=None, config=None):
    out = root / "mnist" / kind / setting / loss / f"seed{seed}"
    out.mkdir(parents=True)
    (out / "metrics.jsonl").write_text(
        "".join(json.dumps({"epoch": i + 1, "test_top1": v}) + "\n" for i, v in enumerate(curve))
    )
    result = {
        "last": {"epoch": len(curve), "test_top1": curve[-1]},
        "config": {"train.epochs": schedule or len(curve), **(config or {})},
    }
    if schedule:  # the harness's record of a run stopped before its schedule's end
        result.update(epochs_run=len(curve), schedule_epochs=schedule)
    (out / "result.json").write_text(json.dumps(result))


def test_verdicts_and_table(tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "official"
    # CE at 0.8: both codes near 23-24, published 47.08 ± 1.15 (tolerance 2 x 1.15 x sqrt 2 = 3.25)
    write_run(ours, "sym", "0.8", "ce", 0, [80.0, 23.0])
    write_run(theirs, "sym", "0.8", "ce", 0, [81.0, 24.5])
    # NCE at 0.8: the codes disagree by 24 points (published std 0: sigma 0.5, tolerance 1.41)
    write_run(ours, "sym", "0.8", "nce", 0, [80.0, 84.3])
    write_run(theirs, "sym", "0.8", "nce", 0, [70.0, 60.0])
    # NCE+RCE at 0.4: everything within the published 98.79 ± 0.12 (± 1 point)
    write_run(ours, "sym", "0.4", "nce+rce", 0, [98.0, 98.9])
    write_run(theirs, "sym", "0.4", "nce+rce", 0, [97.0, 98.5])
    # asym CE: the authors' run stopped at epoch 2 of 50
    write_run(ours, "asym", "0.4", "ce", 0, [90.0, 82.0], schedule=50)
    write_run(theirs, "asym", "0.4", "ce", 0, [90.0, 89.0], schedule=50)
    # two seeds each: the 3-point gap (91 vs 94) is inside 2 x sigma x sqrt(1/2 + 1/2) = 4,
    # sigma being the larger seed std (2; the published std is 1.48)
    for seed, (a, b) in enumerate([(89.0, 95.0), (93.0, 95.0)]):
        write_run(ours, "sym", "0.6", "ce", seed, [a])
        write_run(theirs, "sym", "0.6", "ce", seed, [b - 2 * seed])
    written = sbs.write_all(ours, theirs, "mnist", OutputFolder(tmp_path / "out", overwrite=False))
    rows = {
        (r["kind"], r["setting"], r["loss"]): r["verdict"]
        for r in sbs.build_rows(
            sbs.collect(ours, "mnist"), sbs.collect(theirs, "mnist"), load_published("mnist")
        )
    }
    assert rows == {
        ("sym", "0.8", "ce"): "project = authors' ≠ published",
        ("sym", "0.8", "nce"): "project ≠ authors'",
        ("sym", "0.4", "nce+rce"): "all agree",
        ("asym", "0.4", "ce"): "partial",
        ("sym", "0.6", "ce"): "project = authors' ≠ published",
    }
    md = (tmp_path / "out" / "mnist_side_by_side.md").read_text()
    assert (
        "| sym 0.8 | ce | 47.08±1.15 | 24.50 (n=1) | 23.00 (n=1) | project = authors' ≠ published |"
        in md
    )
    assert "89.00 (n=1) [epoch 2/50]" in md
    assert "94.00±1.00 (n=2)" in md and "91.00±2.00 (n=2)" in md
    pngs = [p for p in written if p.suffix == ".png"]
    assert len(pngs) == 5 and all(p.stat().st_size > 1000 for p in pngs)


def test_tables_cli_adds_the_authors_column(tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "official"
    write_run(ours, "sym", "0.8", "ce", 0, [80.0, 23.0])
    write_run(theirs, "sym", "0.8", "ce", 0, [81.0, 24.5])
    (ours / "mnist" / "sym" / "0.8" / "ce" / "seed0" / "result.json").write_text(
        json.dumps(
            {
                "last": {"epoch": 2, "test_top1": 23.0},
                "best_on_test": {"epoch": 1, "test_top1": 80.0},
                "config": {"train.epochs": 2},
            }
        )
    )
    assert (
        tables.main(
            [
                "--runs",
                str(ours),
                "--dataset",
                "mnist",
                "--kinds",
                "sym",
                "--out",
                str(tmp_path / "t"),
                "--official-runs",
                str(theirs),
            ]
        )
        == 0
    )
    assert (
        "project = authors' ≠ published" in (tmp_path / "t" / "mnist_side_by_side.md").read_text()
    )


def test_a_run_without_result_is_shown_as_partial_from_its_metrics(tmp_path):
    """A run still going (or cut short by the end of a session) has metrics.jsonl and its
    config but no result.json: it appears with its epochs, never as a finished cell."""
    ours, theirs = tmp_path / "ours", tmp_path / "official"
    write_run(ours, "sym", "0.8", "ce", 0, [80.0, 23.0], schedule=50)
    write_run(theirs, "sym", "0.8", "ce", 0, [81.0, 60.0, 40.0])
    folder = theirs / "mnist" / "sym" / "0.8" / "ce" / "seed0"
    (folder / "result.json").unlink()
    (folder / "config.yaml").write_text("train:\n  epochs: 50\n")
    rows = sbs.build_rows(sbs.collect(ours, "mnist"), sbs.collect(theirs, "mnist"), {})
    assert [r["verdict"] for r in rows] == ["partial"]
    assert sbs.fmt(rows[0]["official"]) == "40.00 (n=1) [epoch 3/50]"


def test_losses_option_keeps_only_the_named_losses_cells(tmp_path):
    """A sweep root shared with other experiments (newer losses) lists only the compared cells."""
    ours, theirs = tmp_path / "ours", tmp_path / "official"
    write_run(ours, "sym", "0.8", "ce", 0, [80.0, 23.0])
    write_run(theirs, "sym", "0.8", "ce", 0, [81.0, 24.5])
    write_run(ours, "sym", "0.8", "ldr-kl", 0, [70.0, 75.0])  # no authors' run: left out
    assert (
        compare_official.main(
            [
                "--runs",
                str(ours),
                "--official-runs",
                str(theirs),
                "--out",
                str(tmp_path / "out"),
                "--no-figures",
                "--losses",
                "ce,nce",
            ]
        )
        == 0
    )
    md = (tmp_path / "out" / "mnist_side_by_side.md").read_text()
    assert "| sym 0.8 | ce |" in md and "ldr-kl" not in md


def test_seeds_option_averages_both_columns_over_the_same_seeds(tmp_path):
    """This project ran seeds 0, 123 and 515, the authors' code 0 and 123: --seeds 0,123 keeps
    the unpaired seed out of this project's mean (84.0 would otherwise make it 42.67±29.27)."""
    ours, theirs = tmp_path / "ours", tmp_path / "official"
    for seed, top1 in ((0, 20.0), (123, 24.0), (515, 84.0)):
        write_run(ours, "sym", "0.8", "ce", seed, [80.0, top1])
    for seed, top1 in ((0, 21.0), (123, 23.0)):
        write_run(theirs, "sym", "0.8", "ce", seed, [80.0, top1])
    base = ["--runs", str(ours), "--official-runs", str(theirs), "--no-figures"]
    assert compare_official.main(base + ["--out", str(tmp_path / "all")]) == 0
    assert (
        "| 22.00±1.00 (n=2) | 42.67±29.27 (n=3) |"
        in (tmp_path / "all" / "mnist_side_by_side.md").read_text()
    )
    assert (
        compare_official.main(base + ["--out", str(tmp_path / "paired"), "--seeds", "0,123"]) == 0
    )
    md = (tmp_path / "paired" / "mnist_side_by_side.md").read_text()
    assert "| 22.00±1.00 (n=2) | 22.00±2.00 (n=2) | project = authors' ≠ published |" in md


def test_seeds_option_rejects_a_non_integer_in_one_line(tmp_path, capsys):
    assert (
        compare_official.main(
            [
                "--runs",
                str(tmp_path),
                "--official-runs",
                str(tmp_path),
                "--out",
                str(tmp_path / "o"),
                "--seeds",
                "0,x",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "--seeds '0,x': give integers" in err and err.count("\n") == 1


def test_a_seed_has_one_line_style_in_both_codes_curves(tmp_path, monkeypatch):
    """Colour tells the codes apart, line style the seeds: seed 123 (the same noisy labels in
    both codes) is dashed in both even though the authors' code has no seed-0 run."""
    ours, theirs = tmp_path / "ours", tmp_path / "official"
    for seed in (0, 123):
        write_run(ours, "sym", "0.8", "ce", seed, [80.0, 23.0])
    write_run(theirs, "sym", "0.8", "ce", 123, [81.0, 24.5])
    drawn = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, *args: drawn.append(fig) or [])
    sbs.write_all(ours, theirs, "mnist", OutputFolder(tmp_path / "out", False))
    styles = {line.get_label(): line.get_linestyle() for line in drawn[0].axes[0].get_lines()}
    assert styles["authors' code, seed 123"] == styles["this project, seed 123"] == "--"
    assert styles["this project, seed 0"] == "-"


def test_paired_keeps_per_cell_only_the_seeds_both_codes_ran(tmp_path):
    """CE: both codes ran 0, 123, 515; NCE+RCE: the authors' code only 0 and 123; MAE: only
    this project. --paired drops this project's NCE+RCE seed 515 (80.0) and nothing else."""
    ours, theirs = tmp_path / "ours", tmp_path / "official"
    for seed, top1 in ((0, 20.0), (123, 24.0), (515, 22.0)):
        write_run(ours, "sym", "0.8", "ce", seed, [top1])
        write_run(theirs, "sym", "0.8", "ce", seed, [top1 - 1])
    for seed, top1 in ((0, 66.0), (123, 68.0), (515, 80.0)):
        write_run(ours, "sym", "0.8", "nce+rce", seed, [top1])
    for seed in (0, 123):
        write_run(theirs, "sym", "0.8", "nce+rce", seed, [67.0])
    write_run(ours, "sym", "0.8", "mae", 0, [60.0])
    assert (
        compare_official.main(
            [
                "--runs",
                str(ours),
                "--official-runs",
                str(theirs),
                "--out",
                str(tmp_path / "out"),
                "--no-figures",
                "--paired",
            ]
        )
        == 0
    )
    md = (tmp_path / "out" / "mnist_side_by_side.md").read_text()
    assert "| ce | 47.08±1.15 | 21.00±1.63 (n=3) | 22.00±1.63 (n=3) |" in md
    assert "| nce+rce | 75.18±1.19 | 67.00±0.00 (n=2) | 67.00±1.00 (n=2) |" in md
    assert "| mae | 21.27±0.03 | – | 60.00 (n=1) | no authors' run |" in md


def test_paired_says_which_cell_it_leaves_out_for_want_of_a_common_seed(tmp_path, capsys):
    ours, theirs = tmp_path / "ours", tmp_path / "official"
    write_run(ours, "sym", "0.8", "ce", 0, [23.0])
    write_run(theirs, "sym", "0.8", "ce", 123, [22.0])
    write_run(ours, "sym", "0.8", "nce", 0, [84.0])
    write_run(theirs, "sym", "0.8", "nce", 0, [84.2])
    assert (
        compare_official.main(
            [
                "--runs",
                str(ours),
                "--official-runs",
                str(theirs),
                "--out",
                str(tmp_path / "out"),
                "--no-figures",
                "--paired",
            ]
        )
        == 0
    )
    assert "--paired: sym 0.8 ce has no seed both codes ran; left out" in capsys.readouterr().err
    md = (tmp_path / "out" / "mnist_side_by_side.md").read_text()
    assert "| nce |" in md and "| ce |" not in md


def test_sides_of_different_settings_are_not_compared(tmp_path):
    """Issue 25: a 1-epoch, 500-image run of this project against a 50-epoch run of the
    authors' code is not a disagreement of the codes: the verdict names the keys that differ."""
    ours, theirs = tmp_path / "ours", tmp_path / "official"
    write_run(ours, "sym", "0.8", "ce", 0, [30.0], config={"dataset.train_subset": 500})
    write_run(theirs, "sym", "0.8", "ce", 0, [81.0] * 49 + [22.0])
    [row] = sbs.build_rows(
        sbs.collect(ours, "mnist"), sbs.collect(theirs, "mnist"), load_published("mnist")
    )
    assert row["verdict"] == "configs differ: dataset.train_subset, train.epochs"


def test_each_recipe_is_a_cell_of_its_own(tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "official"
    release = {"recipe": "release", "optim.weight_decay": 0.01, "optim.nesterov": True}
    for root, value in ((ours, 11.35), (theirs, 11.35)):
        write_run(root, "sym", "0.4", "nce", 0, [96.0])
        write_run(root, "sym", "0.4", "nce@release", 0, [90.0, value], config=release)
    rows = sbs.build_rows(
        sbs.collect(ours, "mnist"), sbs.collect(theirs, "mnist"), load_published("mnist")
    )
    assert [(r["loss"], r["verdict"]) for r in rows] == [
        ("nce", "project = authors' ≠ published"),
        ("nce@release", "all agree"),
    ]
    only = sbs.collect(ours, "mnist", recipe="release")
    assert list(only) == [("sym", "0.4", "nce@release")]


def test_the_factor_table_shows_the_loss_weights_a_run_changed(tmp_path):
    """A factor run given `--set loss.beta=100` records an int; the table shows it, and a run
    stopped by hand (no result.json, not settled) is marked unfinished."""
    root = tmp_path / "factors"
    beta = {"recipe": "release", "optim.weight_decay": 0.01, "optim.nesterov": True}
    beta |= {"loss.alpha": 1.0, "loss.beta": 100, "train.epochs": 50}
    write_run(root, "asym", "0.4", "nce+rce@release,beta=100", 0, [88.0, 88.5], 50, beta)
    stopped = root / "mnist/asym/0.4/nce+rce@release,beta=100/seed0"
    (stopped / "result.json").unlink()
    (stopped / "config.yaml").write_text(
        "train:\n  epochs: 50\noptim:\n  weight_decay: 0.01\n  nesterov: true\n"
        "loss:\n  alpha: 1.0\n  beta: 100\nrecipe: release\n"
    )
    args = ["--runs", str(tmp_path), "--official-runs", str(tmp_path), "--out", str(tmp_path / "o")]
    args += ["--recipes", "paper,release", "--cells", "asym:0.4:nce+rce", "--no-figures"]
    assert compare_official.main([*args, "--factors", str(root)]) == 0
    assert (
        "| asym 0.4 | nce+rce | release,beta=100 | 0.01 | yes | alpha=1, beta=100 "
        "| 2/50 (unfinished) | 88.50 | 88.50 (2) | no |"
    ) in (tmp_path / "o" / "mnist_factors.md").read_text()


def test_the_recipe_report_says_which_recipe_explains_each_cell(tmp_path):
    """reports/recipes.py: NCE at sym 0.4 collapses to 11.35 under release in both codes
    (published 11.35 ± 0.00: explained) and not under the paper-era recipe (96: not); CE at
    0.8 has only an earlier session's paper-era value and no release run."""
    ours, theirs = tmp_path / "ours", tmp_path / "official"
    release = {"recipe": "release", "optim.weight_decay": 0.01, "optim.nesterov": True}
    for root in (ours, theirs):
        write_run(root, "sym", "0.4", "nce", 0, [95.0, 96.0])
        write_run(root, "sym", "0.4", "nce@release", 0, [90.0, 11.35], config=release)
    earlier = tmp_path / "earlier.csv"
    earlier.write_text(
        "kind,setting,loss,published_mean,published_std,official_mean,official_std,"
        "official_n,official_epochs,ours_mean,ours_std,ours_n,ours_epochs,verdict\n"
        "sym,0.8,ce,47.08,1.15,21.7467,0.5941,3,50,23.0467,0.5775,3,50,x\n"
    )
    assert (
        compare_official.main(
            [
                "--runs",
                str(ours),
                "--official-runs",
                str(theirs),
                "--out",
                str(tmp_path / "out"),
                "--recipes",
                "paper,release",
                "--cells",
                "sym:0.4:nce,sym:0.8:ce",
                "--earlier",
                str(earlier),
            ]
        )
        == 0
    )
    md = (tmp_path / "out" / "mnist_recipes.md").read_text()
    assert (
        "| sym 0.4 | nce | 11.35±0.00 | 96.00 (n=1) | 96.00 (n=1) | 11.35 (n=1) | "
        "11.35 (n=1) | release explains; paper not |"
    ) in md
    assert (
        "| sym 0.8 | ce | 47.08±1.15 | 21.75±0.59 (n=3) ‡ | 23.05±0.58 (n=3) ‡ | – | – | "
        "no recipe explains it (release: not run) |"
    ) in md
    assert (
        "paper explains 0 of the 2 cells it was run on; release explains 1 of the 1 "
        "cells it was run on. Explained by no recipe that ran it: sym 0.8 ce."
    ) in md
    assert (tmp_path / "out" / "mnist_sym_0.4_nce_recipes.png").is_file()


def test_recipe_report_cells_are_checked_in_one_line(tmp_path, capsys):
    assert (
        compare_official.main(
            [
                "--runs",
                str(tmp_path),
                "--official-runs",
                str(tmp_path),
                "--out",
                str(tmp_path / "o"),
                "--recipes",
                "paper,release",
                "--cells",
                "sym:x:nce",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "--cells 'sym:x:nce': the rate 'x' is not a number" in err and err.count("\n") == 1


def test_the_factor_table_says_when_a_run_collapsed_and_that_it_was_stopped(tmp_path):
    from reports.recipes import collapse_epoch

    assert (
        collapse_epoch(
            [
                {"epoch": e, "test_top1": v}
                for e, v in enumerate([90.0, 11.35, 50.0, 11.35, 11.35], 1)
            ]
        )
        == 4
    )
    assert collapse_epoch([{"epoch": 1, "test_top1": 96.0}]) is None
    root = tmp_path / "factors"
    release = {
        "recipe": "release",
        "optim.weight_decay": 0.01,
        "optim.nesterov": False,
        "train.epochs": 50,
    }
    write_run(
        root,
        "sym",
        "0.4",
        "nce@release,nesterov=false",
        0,
        [93.0, 50.0] + [11.35] * 5,
        schedule=50,
        config=release,
    )
    folder = root / "mnist/sym/0.4/nce@release,nesterov=false/seed0"
    (folder / "result.json").unlink()  # stopped by hand after settling
    (folder / "config.yaml").write_text(
        "train:\n  epochs: 50\noptim:\n  weight_decay: 0.01\n  nesterov: false\nrecipe: release\n"
    )
    assert stop_settled(root, 11.35, 5) == [(folder, 7)]  # nothing runs there: only marked
    assert (
        compare_official.main(
            [
                "--runs",
                str(tmp_path),
                "--official-runs",
                str(tmp_path),
                "--out",
                str(tmp_path / "o"),
                "--recipes",
                "paper,release",
                "--cells",
                "sym:0.4:nce",
                "--factors",
                str(root),
                "--no-figures",
            ]
        )
        == 0
    )
    md = (tmp_path / "o" / "mnist_factors.md").read_text()
    assert (
        "| sym 0.4 | nce | release,nesterov=false | 0.01 | no | – | 7/50 (stopped: settled) "
        "| 11.35 | 93.00 (1) | 3 |"
    ) in md
    # in the recipe table, a column of runs stopped after settling says so, not "running"
    settled_column = {"mean": 11.35, "std": float("nan"), "n": 1, "complete": False}
    settled_column |= {"epochs": 7, "schedule": 50, "earlier": False}
    settled_column["settled"] = [read_settled(folder)]
    assert recipes.fmt(settled_column) == (
        "11.35 (n=1) [epoch 7/50, stopped: settled at 11.35 by epoch 7]"
    )
    settled_column["settled"] = [None]  # an unfinished run without the mark is still running
    assert recipes.fmt(settled_column) == "11.35 (n=1) [epoch 7/50, running]"
    # a settled run decides its cell (the collapse does not come back); a running one does not
    column = recipes.column([read_run(folder)], None)
    assert column["decided"] and not column["complete"]
    assert recipes.explains([column], (11.35, 0.0)) is True
    assert recipes.explains([column], (96.86, 0.17)) is False
    (folder / "settled.json").unlink()
    assert recipes.explains([recipes.column([read_run(folder)], None)], (11.35, 0.0)) is None


def test_a_cell_with_a_seed_still_running_says_so_and_waits_for_it(tmp_path):
    """A recipe's verdict waits until every seed of a code has finished (one running seed makes
    the column undecided) and the verdict says "still running", not "not run"."""
    ours, theirs = tmp_path / "ours", tmp_path / "official"
    release = {"recipe": "release", "optim.weight_decay": 0.01, "optim.nesterov": True}
    write_run(ours, "sym", "0.8", "ce@release", 0, [90.0, 47.0], config=release)
    write_run(ours, "sym", "0.8", "ce@release", 1, [90.0], schedule=2, config=release)
    write_run(theirs, "sym", "0.4", "nce@release", 0, [90.0, 11.35], config=release)
    write_run(ours, "sym", "0.4", "nce@release", 0, [90.0, 11.35], config=release)
    write_run(ours, "sym", "0.4", "nce@release", 1, [90.0], schedule=2, config=release)
    cells = [("sym", "0.8", "ce"), ("sym", "0.4", "nce")]
    roots = {"ours": ours, "official": theirs}
    rows = recipes.build_rows(roots, "mnist", cells, ["paper", "release"], {})
    assert [r["verdict"] for r in rows] == [
        "still running",
        "release explains (paper: not run, release: more runs still going)",
    ]


def test_the_verdict_band_is_two_published_stds_or_one_point():
    """reports.published.tolerance: the half-width the verdict and the figures' shading use."""
    assert tolerance((47.08, 1.15)) == 2.30
    assert tolerance((11.35, 0.0)) == 1.0  # a zero std would make every run 'outside'
    assert tolerance((11.35, 0.49)) == 1.0
    assert tolerance((90.0, None)) is None
    assert outside(49.39, (47.08, 1.15)) and not outside(49.38, (47.08, 1.15))
    assert not outside(0.0, (90.0, None))  # no std published: nothing to be outside of
