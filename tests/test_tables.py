"""The table tool: aggregation (mean, population std), published values, flags, seed counts."""
import json
from pathlib import Path

import pytest

from scripts import tables


def fake_run(root: Path, kind, rate, loss, seed, last, best=None, epochs=3):
    run = root / "mnist" / kind / f"{rate:g}" / loss / f"seed{seed}"
    run.mkdir(parents=True)
    (run / "result.json").write_text(json.dumps({
        "last": {"test_top1": last}, "best_on_test": {"test_top1": best or last},
        "noise_estimate": {"injected_rate": rate, "estimated_rate": rate - 0.01,
                           "rate_abs_error": 0.01, "transition_mean_abs_error": 0.002,
                           "transition_max_abs_error": 0.05}}))
    rows = [{"epoch": e + 1, "test_top1": last - (epochs - 1 - e)} for e in range(epochs)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    for seed, value in zip((0, 123, 515), (97.0, 98.0, 99.0)):
        fake_run(root, "sym", 0.4, "ce", seed, value, best=value + 1)
        fake_run(root, "sym", 0.8, "ce", seed, value - 50)
    fake_run(root, "sym", 0.4, "nce+rce", 0, 98.79)
    fake_run(root, "sym", 0.8, "nce+rce", 0, 60.0)
    return root


def test_cells_aggregate_flag_and_count(runs, tmp_path):
    assert tables.main(["--runs", str(runs), "--dataset", "mnist", "--kinds", "sym",
                        "--out", str(tmp_path / "out"), "--figures"]) == 0
    md = (tmp_path / "out/mnist_sym.md").read_text()
    # mean 98, population std sqrt(2/3) = 0.816; published CE at 0.4 is 94.21 ± 0.54 -> flagged
    assert "| ce | 98.00±0.82 [94.21±0.54, +3.79!]" in md
    # one seed: no std, count shown; published 98.79 ± 0.12: within ± 1 point -> no flag
    assert "98.79 (n=1) [98.79±0.12, +0.00]" in md
    assert "60.00 (n=1) [75.18±1.19, -15.18!]" in md
    rows = (tmp_path / "out/mnist_sym.csv").read_text().splitlines()
    assert rows[0].startswith("loss,rate,n,mean,std")
    assert "ce,0.4,3,98.0000,0.8165,94.21,0.54,3.7900,True" in rows
    assert r"$\pm$" in (tmp_path / "out/mnist_sym.tex").read_text()
    assert (tmp_path / "out/mnist_sym_vs_rate.png").is_file()
    assert list((tmp_path / "out").glob("mnist_sym_0.4_ce_mae_nce+rce*_test_top1.pdf"))
    estimates = (tmp_path / "out/mnist_noise_estimates.md").read_text()
    assert "| sym | 0.4 | ce | 123 | 0.4000 | 0.3900 | 0.0100 | 0.0020 | 0.050 |" in estimates


def test_sample_std_and_best_on_test_protocol(runs, tmp_path):
    tables.main(["--runs", str(runs), "--dataset", "mnist", "--kinds", "sym", "--ddof", "1",
                 "--protocol", "best_test", "--out", str(tmp_path / "o")])
    md = (tmp_path / "o/mnist_sym_best_test.md").read_text()
    assert "SELECTED ON THE TEST SET" in md
    assert "| ce | 99.00±1.00 " in md  # best = last + 1; sample std of (98, 99, 100) = 1
