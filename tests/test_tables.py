"""The table tool (scripts/tables.py over reports/): aggregation (mean, population std),
published values, flags, seed counts, the scale actually run, cells split by config."""

import json
from pathlib import Path

import pytest

from engine.record import walk_runs
from reports import cells as C
from reports import figures
from reports.output import ReportError
from scripts import tables


def fake_run(
    root: Path, kind, rate, loss, seed, last, best=None, epochs=50, config=None, forced=False
):
    """A finished run in the layout, with a result.json of an earlier version (no schema: the
    reader upgrades it) and `epochs` rows rising by one point to `last`."""
    run = root / "mnist" / kind / f"{rate:g}" / loss / f"seed{seed}"
    run.mkdir(parents=True)
    (run / "result.json").write_text(
        json.dumps(
            {
                "config": config or {},
                "forced_resume": forced,
                "last": {"epoch": epochs, "test_top1": last},
                "best_on_test": {"test_top1": best or last},
                "noise_estimate": {
                    "injected_rate": rate,
                    "estimated_rate": rate - 0.01,
                    "rate_abs_error": 0.01,
                    "transition_mean_abs_error": 0.002,
                    "transition_max_abs_error": 0.05,
                },
            }
        )
    )
    rows = [{"epoch": e + 1, "test_top1": last - (epochs - 1 - e)} for e in range(epochs)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    for seed, value in zip((0, 123, 515), (97.0, 98.0, 99.0), strict=False):
        fake_run(root, "sym", 0.4, "ce", seed, value, best=value + 1)
        fake_run(root, "sym", 0.8, "ce", seed, value - 50)
    fake_run(root, "sym", 0.4, "nce+rce", 0, 98.79)
    fake_run(root, "sym", 0.8, "nce+rce", 0, 60.0)
    return root


def test_cells_aggregate_flag_and_count(runs, tmp_path):
    assert (
        tables.main(
            [
                "--runs",
                str(runs),
                "--dataset",
                "mnist",
                "--kinds",
                "sym",
                "--out",
                str(tmp_path / "out"),
                "--figures",
            ]
        )
        == 0
    )
    md = (tmp_path / "out/mnist_sym.md").read_text()
    # mean 98, population std sqrt(2/3) = 0.816; published CE at 0.4 is 94.21 ± 0.54 -> flagged
    assert "| ce | 98.00±0.82 [94.21±0.54, +3.79!]" in md
    # one seed: no std, count shown; published 98.79 ± 0.12: within ± 1 point -> no flag
    assert "98.79 (n=1) [98.79±0.12, +0.00]" in md
    assert "60.00 (n=1) [75.18±1.19, -15.18!]" in md
    rows = (tmp_path / "out/mnist_sym.csv").read_text().splitlines()
    assert rows[0].startswith("loss,rate,n,mean,std")
    assert "ce,0.4,3,98.0000,0.8165,94.21,0.54,3.7900,True,False,,0" in rows
    assert r"$\pm$" in (tmp_path / "out/mnist_sym.tex").read_text()
    assert (tmp_path / "out/mnist_sym_vs_rate.png").is_file()
    assert (tmp_path / "out/mnist_sym_0.4_ce_nce+rce_test_top1.pdf").is_file()  # drawn losses only
    estimates = (tmp_path / "out/mnist_noise_estimates.md").read_text()
    assert (
        "| sym | 0.4 | ce | 123 | in-sample | 0.4000 | 0.3900 | 0.0100 | 0.0020 | 0.050 |"
        in estimates
    )


def test_losses_option_tabulates_and_draws_only_those_losses(runs, tmp_path):
    fake_run(runs, "sym", 0.8, "ldr-kl", 0, 70.0)
    fake_run(runs, "sym", 0.8, "jal-ce", 0, 72.0)
    assert (
        tables.main(
            [
                "--runs",
                str(runs),
                "--dataset",
                "mnist",
                "--kinds",
                "sym",
                "--seeds",
                "1",
                "--out",
                str(tmp_path / "out"),
                "--figures",
                "--losses",
                "nce+rce,ldr-kl,jal-ce",
            ]
        )
        == 0
    )
    md = (tmp_path / "out/mnist_sym.md").read_text()
    assert "| ldr-kl |" in md and "| jal-ce |" in md and "| nce+rce |" in md
    assert "| ce |" not in md
    assert (tmp_path / "out/mnist_sym_0.8_nce+rce_jal-ce_ldr-kl_test_top1.png").is_file()
    assert "| ce |" not in (tmp_path / "out/mnist_noise_estimates.md").read_text()


def test_sample_std_and_best_on_test_protocol(runs, tmp_path):
    tables.main(
        [
            "--runs",
            str(runs),
            "--dataset",
            "mnist",
            "--kinds",
            "sym",
            "--ddof",
            "1",
            "--protocol",
            "best_test",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    md = (tmp_path / "o/mnist_sym_best_test.md").read_text()
    assert "SELECTED ON THE TEST SET" in md
    assert "| ce | 99.00±1.00 " in md  # best = last + 1; sample std of (98, 99, 100) = 1


def test_reduced_scale_cells_show_their_scale_and_are_not_flagged(tmp_path):
    root = tmp_path / "runs"
    small = {"train.epochs": 1, "dataset.train_subset": 2000}
    for seed, value in zip((0, 123, 515), (97.0, 98.0, 99.0), strict=False):
        fake_run(root, "sym", 0.4, "ce", seed, value, config=small, epochs=1)
    # configs/mnist/sym/nce+rce.yaml trains 50 epochs: 50 of them on all samples is full scale
    fake_run(root, "sym", 0.4, "nce+rce", 0, 60.0, config={"train.epochs": 50})
    assert tables.main(["--runs", str(root), "--dataset", "mnist", "--kinds", "sym"]) == 0
    md = (root / "tables/mnist_sym.md").read_text()
    assert "| ce | 98.00±0.82 {1/50 ep, 2000 train} [94.21±0.54, +3.79 reduced scale] |" in md
    assert "60.00 (n=1) [98.79±0.12, -38.79!]" in md  # full scale: still a miss
    rows = (root / "tables/mnist_sym.csv").read_text().splitlines()
    assert 'ce,0.4,3,98.0000,0.8165,94.21,0.54,3.7900,False,True,"1/50 ep, 2000 train",0' in rows


def test_forced_resumes_are_marked(tmp_path):
    root = tmp_path / "runs"
    fake_run(root, "sym", 0.4, "ce", 0, 94.0, forced=True)
    fake_run(root, "sym", 0.4, "ce", 1, 94.4)
    assert (
        tables.main(["--runs", str(root), "--dataset", "mnist", "--kinds", "sym", "--seeds", "2"])
        == 0
    )
    assert (
        "| ce | 94.20±0.20 (forced 1) [94.21±0.54, -0.01] |"
        in (root / "tables/mnist_sym.md").read_text()
    )


def test_files_it_did_not_write_are_not_overwritten(runs, tmp_path, capsys):
    out = tmp_path / "results"
    out.mkdir()
    (out / "mnist_sym.md").write_text("committed table\n")
    args = ["--runs", str(runs), "--dataset", "mnist", "--kinds", "sym", "--out", str(out)]
    assert tables.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "was not written by scripts/tables.py" in err[0]
    assert "--overwrite" in err[0]
    assert (out / "mnist_sym.md").read_text() == "committed table\n"
    assert tables.main(args + ["--overwrite"]) == 0
    assert "98.79" in (out / "mnist_sym.md").read_text()
    assert tables.main(args) == 0  # its own files (listed in the manifest) it may rewrite
    assert "mnist_sym.md" in json.loads((out / ".tables-written.json").read_text())


def test_default_output_is_under_the_runs_folder(runs):
    assert tables.main(["--runs", str(runs), "--dataset", "mnist", "--kinds", "sym"]) == 0
    assert (runs / "tables/mnist_sym.md").is_file()


def test_one_epoch_curves_are_drawn_with_markers(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    for loss in ("ce", "nce"):
        fake_run(root, "sym", 0.4, loss, 0, 90.0, epochs=1)
    fake_run(root, "sym", 0.4, "nce+rce", 0, 90.0, epochs=1)
    drawn = {}

    def keep(fig, out, stem, *labels):
        drawn[stem] = [line.get_marker() for line in fig.axes[0].get_lines()]
        return []

    monkeypatch.setattr(figures, "save_figure", keep)
    assert (
        tables.main(
            [
                "--runs",
                str(root),
                "--dataset",
                "mnist",
                "--kinds",
                "sym",
                "--figures",
                "--curve-metrics",
                "test_top1",
                "--seeds",
                "1",
            ]
        )
        == 0
    )
    assert drawn["mnist_sym_0.4_ce_nce_test_top1"] == ["o", "o"]
    # the last group has runs of NCE+RCE only: one curve, no figure (and no name listing
    # CE-eps+MAE etc.); the big APL group draws CE and NCE+RCE
    assert set(drawn) == {"mnist_sym_0.4_ce_nce_test_top1", "mnist_sym_0.4_ce_nce+rce_test_top1"}


def test_a_run_is_read_from_its_own_record_and_the_sweep_names_it_alike(tmp_path):
    """result.json["run"] says which cell a run belongs to (a result.json of an earlier
    version falls back to the path, as above); the sweep, train.py and the authors'-code harness
    all name the run directory with engine/record.py, so path and record agree for their runs."""
    from engine import sweep as sweep_lib
    from engine.experiment import load_config, run_coordinates
    from engine.record import result_document, run_path
    from scripts import sweep

    path = Path(__file__).resolve().parents[1] / "configs/mnist/sym/nce+rce.yaml"
    config = load_config(path, overrides={"noise.rate": 0.4, "train.seed": 123})
    runs = tmp_path / "runs"
    args = sweep.build_parser().parse_args(
        [
            "--dataset",
            "mnist",
            "--kinds",
            "sym",
            "--sym-rates",
            "0.4",
            "--losses",
            "nce+rce",
            "--seeds",
            "123",
            "--out",
            str(runs),
        ]
    )
    [planned] = sweep_lib.build_runs(args)
    where = run_coordinates(config, path)
    # MNIST's configs run the release recipe by default, and a run says so in its folder
    assert planned.out == run_path(runs, where) == runs / "mnist/sym/0.4/nce+rce@release/seed123"
    # filed under a folder whose parts say otherwise: the record wins
    folder = runs / "mnist/misfiled/0.8/ce/seed7"
    folder.mkdir(parents=True)
    rows = [{"epoch": 1, "test_top1": 91.0}]
    (folder / "metrics.jsonl").write_text(json.dumps(rows[0]) + "\n")
    (folder / "result.json").write_text(
        json.dumps(
            result_document(
                code="this project",
                status="finished",
                where=where,
                history=rows,
                schedule_epochs=1,
                cfg=config,
                noise={},
                wall_seconds=1.0,
                provenance={},
            )
        )
    )
    [record] = tables.walk_runs(runs, "mnist")
    assert record.folder == folder
    assert tuple(record.where) == ("mnist", "sym", "0.4", "nce+rce@release", "123")


def test_curve_summary_lists_each_run_with_its_peak_and_unfinished_runs(runs, tmp_path):
    running = runs / "mnist" / "sym" / "0.8" / "nce" / "seed0"
    running.mkdir(parents=True)  # no result.json: still training
    rows = [
        {"epoch": 1, "test_top1": 50.0, "mem_flipped_fit_noisy": 1.0},
        {"epoch": 2, "test_top1": 80.0, "mem_flipped_fit_noisy": 5.0},
        {"epoch": 3, "test_top1": 80.0, "mem_flipped_fit_noisy": 9.0},
        {"epoch": 4, "test_top1": 70.0, "mem_flipped_fit_noisy": 12.34},
    ]
    (running / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert (
        tables.main(
            [
                "--runs",
                str(runs),
                "--dataset",
                "mnist",
                "--kinds",
                "sym",
                "--out",
                str(tmp_path / "out"),
                "--losses",
                "ce,nce",
            ]
        )
        == 0
    )
    lines = (tmp_path / "out/mnist_curves.md").read_text().splitlines()
    # the peak is the first epoch that reaches it; the fit share is the last epoch's
    assert "| sym | 0.8 | nce | 0 | 4 (unfinished) | 70.00 | 80.00 (2) | 12.3 % |" in lines
    # finished runs (fake_run: 50 rising epochs, no memorisation column), seeds in numeric order
    ce = [line for line in lines if line.startswith("| sym | 0.4 | ce |")]
    assert ce == [
        "| sym | 0.4 | ce | 0 | 50 | 97.00 | 97.00 (50) | - |",
        "| sym | 0.4 | ce | 123 | 50 | 98.00 | 98.00 (50) | - |",
        "| sym | 0.4 | ce | 515 | 50 | 99.00 | 99.00 (50) | - |",
    ]
    assert not any("nce+rce" in line for line in lines)  # --losses


def test_figures_of_reduced_scale_runs_say_so_in_their_titles(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    small = {"train.epochs": 6, "dataset.train_subset": 2000}
    for loss in ("ce", "nce"):
        fake_run(root, "sym", 0.4, loss, 0, 90.0, config=small, epochs=6)
        fake_run(root, "sym", 0.8, loss, 0, 50.0, config={"train.epochs": 50})  # full scale
    titles = {}

    def keep(fig, out, stem, xlabel, ylabel, title):
        titles[stem] = title
        return []

    monkeypatch.setattr(figures, "save_figure", keep)
    assert (
        tables.main(
            [
                "--runs",
                str(root),
                "--dataset",
                "mnist",
                "--kinds",
                "sym",
                "--seeds",
                "1",
                "--figures",
                "--curve-metrics",
                "test_top1",
            ]
        )
        == 0
    )
    assert titles["mnist_sym_vs_rate"] == "mnist sym (reduced scale: 6/50 ep, 2000 train)"
    assert titles["mnist_sym_0.4_ce_nce_test_top1"] == (
        "mnist sym 0.4 (reduced scale: 6/50 ep, 2000 train)"
    )
    assert titles["mnist_sym_0.8_ce_nce_test_top1"] == "mnist sym 0.8"


def test_runs_of_different_configs_never_share_a_cell(tmp_path, capsys):
    """Issue 25: beta = 1 and beta = 10 runs filed under one cell (as an earlier sweep did)
    are split into rows named by the differing key, and a note says so; never averaged."""
    root = tmp_path / "runs"
    fake_run(root, "sym", 0.4, "nce+rce", 0, 90.0, config={"loss.beta": 1.0})
    fake_run(root, "sym", 0.4, "nce+rce", 123, 98.0, config={"loss.beta": 10.0})
    fake_run(root, "sym", 0.4, "nce+rce", 515, 99.0, config={"loss.beta": 10.0})
    assert tables.main(["--runs", str(root), "--dataset", "mnist", "--kinds", "sym"]) == 0
    md = (root / "tables/mnist_sym.md").read_text()
    assert "| nce+rce | 90.00 (n=1) [98.79±0.12, -8.79!] |" in md
    assert "| nce+rce {loss.beta=10.0} | 98.50±0.50 (n=2) [98.79±0.12, -0.29] |" in md
    assert "note: sym 0.4 nce+rce: runs of 2 different configs, split into rows" in md


def test_a_run_stopped_early_is_reduced_scale_by_the_epochs_it_ran(tmp_path):
    """Issue 25: the authors'-code harness's --stop-after 1 run (schedule 50) is marked by the
    epochs it trained, not flagged as a full-scale miss."""
    root = tmp_path / "runs"
    fake_run(root, "sym", 0.8, "nce", 0, 71.0, epochs=1, config={"train.epochs": 50})
    assert tables.main(["--runs", str(root), "--dataset", "mnist", "--kinds", "sym"]) == 0
    assert (
        "| nce | 71.00 (n=1) {1/50 ep} [11.35±0.00, +59.65 reduced scale] |"
        in (root / "tables/mnist_sym.md").read_text()
    )


def test_a_table_shows_one_recipe_and_says_so(tmp_path, capsys):
    root = tmp_path / "runs"
    fake_run(root, "sym", 0.4, "nce", 0, 96.0)
    fake_run(
        root,
        "sym",
        0.4,
        "nce@release",
        0,
        11.35,
        config={"recipe": "release", "optim.weight_decay": 0.01, "optim.nesterov": True},
    )
    # without --recipe: the recipe MNIST's configs run (configs/base/mnist.yaml: release)
    assert tables.main(["--runs", str(root), "--dataset", "mnist", "--kinds", "sym"]) == 0
    assert "1 run(s) of recipe 'paper' left out (--recipe paper)" in capsys.readouterr().err
    release = (root / "tables/mnist_sym_release.md").read_text()
    assert "recipe release" in release and "| nce | 11.35 (n=1) [11.35±0.00, +0.00] |" in release
    assert "96.00" not in release
    assert (
        tables.main(
            ["--runs", str(root), "--dataset", "mnist", "--kinds", "sym", "--recipe", "paper"]
        )
        == 0
    )
    paper = (root / "tables/mnist_sym.md").read_text()
    assert "recipe paper" in paper and "| nce | 96.00" in paper and "11.35 (n=1)" not in paper


def test_the_default_recipe_of_a_table_is_the_configs_or_the_only_one_run(tmp_path):
    root = tmp_path / "runs"
    fake_run(root, "sym", 0.4, "nce", 0, 96.0)
    paper_only = list(walk_runs(root, "mnist"))
    assert C.default_recipe("mnist") == "release" and C.default_recipe("cifar10") == "paper"
    assert C.table_recipe(paper_only, "mnist", None) == "paper"  # the only one there
    assert C.table_recipe(paper_only, "mnist", "release") == "release"  # asked for
    assert C.table_recipe([], "mnist", None) == "release"
    full = {"recipe": "release-full", "optim.weight_decay": 0.01, "optim.nesterov": True}
    fake_run(root, "sym", 0.4, "nce@release-full", 0, 98.0, config=full)
    with pytest.raises(ReportError, match="recipes paper, release-full, none of them the"):
        C.table_recipe(list(walk_runs(root, "mnist")), "mnist", None)


def test_a_grid_key_pivots_into_columns(tmp_path):
    root = tmp_path / "runs"
    for beta, seed, value in ((1.0, 0, 90.0), (1.0, 123, 92.0), (10.0, 0, 98.0)):
        variant = "" if beta == 10.0 else "@beta=1"
        fake_run(root, "sym", 0.4, "nce+rce" + variant, seed, value, config={"loss.beta": beta})
    assert tables.main(["--runs", str(root), "--dataset", "mnist", "--pivot", "loss.beta"]) == 0
    md = (root / "tables/mnist_pivot_loss.beta.md").read_text()
    assert "| loss | loss.beta=1.0 | loss.beta=10.0 |" in md
    assert "| nce+rce | 91.00±1.00 (n=2) | 98.00 (n=1) |" in md


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda out: out.write_text("x"), "is a file, not a folder"),
        (lambda out: (out.mkdir(), out.chmod(0o500)), "cannot write in --out"),
    ],
)
def test_an_unusable_out_is_one_line(runs, tmp_path, capsys, make, match):
    import os

    out = tmp_path / "out"
    make(out)
    if os.geteuid() == 0 and out.is_dir():
        pytest.skip("root writes into read-only folders")
    assert tables.main(["--runs", str(runs), "--dataset", "mnist", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1


def test_a_truncated_result_is_named_in_one_line(runs, capsys):
    broken = runs / "mnist/sym/0.4/ce/seed0/result.json"
    broken.write_text('{"last": {"test_top1": 9')
    assert tables.main(["--runs", str(runs), "--dataset", "mnist"]) == 2
    err = capsys.readouterr().err
    assert str(broken) in err and "not valid JSON" in err and err.count("\n") == 1


def test_a_reduced_scale_variant_is_a_scale_mark_not_a_row(tmp_path):
    """A sweep with --epochs 6 files its runs as <loss>@epochs=6: the table shows them in the
    loss's row with the scale mark."""
    root = tmp_path / "runs"
    fake_run(root, "sym", 0.4, "ce@epochs=6", 0, 90.0, epochs=6, config={"train.epochs": 6})
    assert tables.main(["--runs", str(root), "--dataset", "mnist", "--kinds", "sym"]) == 0
    assert (
        "| ce | 90.00 (n=1) {6/50 ep} [94.21±0.54, -4.21 reduced scale] |"
        in (root / "tables/mnist_sym.md").read_text()
    )
