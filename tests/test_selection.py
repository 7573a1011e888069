"""The paper's α/β selection protocol (reports/selection.py, scripts/select_hyperparameters.py):
chosen on the held-out noisy split, reported on the test set, beside the config's pair."""

import json
from pathlib import Path

import pytest

from scripts import select_hyperparameters as select

REPO = Path(__file__).resolve().parents[1]


def fake(root, variant, seed, alpha, beta, val, test, recipe="paper"):
    folder = root / "mnist/sym/0.4" / f"nce+rce@{variant}" / f"seed{seed}"
    folder.mkdir(parents=True)
    row = {"epoch": 1, "test_top1": test, "val_noisy_top1": val}
    (folder / "metrics.jsonl").write_text(json.dumps(row) + "\n")
    (folder / "result.json").write_text(
        json.dumps(
            {
                "last": {"epoch": 1, "test_top1": test},
                "config": {
                    "loss.alpha": alpha,
                    "loss.beta": beta,
                    "dataset.noisy_val_fraction": 0.2,
                    "recipe": recipe,
                },
            }
        )
    )


def test_the_pair_is_chosen_on_noisy_validation_never_on_test(tmp_path):
    # (10, 100) has the best test accuracy but the worse noisy-validation accuracy: not chosen
    fake(tmp_path, "a", 0, 1.0, 10.0, 55.0, 98.0)
    fake(tmp_path, "a", 123, 1.0, 10.0, 57.0, 97.0)
    fake(tmp_path, "b", 0, 10.0, 100.0, 50.0, 99.5)
    fake(tmp_path, "c", 0, 0.1, 0.1, 58.0, 96.0)
    # a run of another recipe would win on noisy validation: it is not this table's
    fake(tmp_path, "release,d", 0, 10.0, 10.0, 70.0, 90.0, recipe="release")
    argv = ["--dataset", "mnist", "--out", str(tmp_path), "--report-only", "--epochs", "1"]
    args = select.build_parser().parse_args(argv)
    assert select.main([*argv, "--recipe", "paper"]) == 0
    md = (tmp_path / "tables/mnist_selection.md").read_text()
    assert "recipe paper — REDUCED SCALE: 1 epochs" in md and "70.00" not in md
    # (0.1, 0.1): noisy val 58 beats (1, 10) at 56 ± 1; the paper config's pair is (1, 10)
    assert (
        "| sym 0.4 | nce+rce | (0.1, 0.1) | 58.00 (n=1) | 96.00 (n=1) | (1, 10) | "
        "56.00±1.00 (n=2) | 97.50±0.50 (n=2) | no |"
    ) in md
    assert "(10, 100): 50.00 (n=1) / 99.50 (n=1)" in md
    assert args.grid is None


@pytest.mark.e2e
def test_one_command_runs_the_grid_and_reports(tmp_path):
    from fake_data import write_fake_mnist

    root = write_fake_mnist(tmp_path / "data", n_train=200, n_test=50)
    out = tmp_path / "select"
    assert (
        select.main(
            [
                "--dataset",
                "mnist",
                "--out",
                str(out),
                "--data-root",
                str(root),
                "--epochs",
                "1",
                "--grid",
                "loss.alpha=1",
                "--grid",
                "loss.beta=1,10",
                "--set",
                "train.batch_size=50",
            ]
        )
        == 0
    )
    md = (out / "tables/mnist_selection.md").read_text()
    assert "| sym 0.4 | nce+rce |" in md and "(1, 10)" in md and "(1, 1)" in md
    folders = sorted(p.parent.name for p in out.glob("mnist/sym/0.4/*/seed0"))
    assert len(folders) == 2 and all("noisy_val_fraction=0.2" in f for f in folders)
