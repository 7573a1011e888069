"""scripts/gpu_check.py in its CPU dry mode (its whole logic, tiny step counts, fake MNIST), the
projection arithmetic against a hand computation, and benchmark.py's FLOP counting."""

import json

import fake_data
import pytest
import torch

from perf import benchmark
from perf import gpu_check as gpu_check_lib
from scripts import gpu_check


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gpu_check")
    root = fake_data.write_fake_mnist(tmp / "data", n_train=256, n_test=64)
    out = tmp / "gpu_check.json"
    code = gpu_check.main(
        ["--dry-run", "--models", "mnist", "--data-root", str(root), "--out", str(out)]
    )
    report = json.loads(out.read_text())
    assert code == 0, json.dumps(report)[:2000]
    return report


@pytest.mark.e2e
def test_dry_run_records_every_part(report):
    assert report["mode"] == "dry-run" and report["why_dry"] == "--dry-run"
    env = report["environment"]
    assert env["torch"] == torch.__version__ and "cudnn" in env and env["device"] == "cpu"
    assert all(report[p]["status"] == "ok" for p in ("tests", "timing", "loading", "projection"))
    # the file pipeline both ways (device_decode's timing; on a GPU: nvJPEG)
    assert set(report["loading"]["images_per_s"]) == {
        "cpu/train",
        "cpu/eval",
        "device/train",
        "device/eval",
    }
    assert all(v > 0 for v in report["loading"]["images_per_s"].values())
    tests = report["tests"]
    if not torch.cuda.is_available():  # the cuda tier skips, with its reason
        assert tests["tests"] == tests["skipped"] > 0 and tests["failures"] == 0
        assert any("no CUDA GPU" in r for r in tests["skip_reasons"])
    timing = report["timing"]
    assert timing["machine"]["gemm_fp32"]["gflops"] > 0
    mnist = timing["models"]["mnist"]
    assert mnist["status"] == "ok" and set(mnist["epoch_s"]) == {"reference", "fast"}
    assert "official_epoch_s" in mnist, mnist.get("official_skipped")
    assert all(0 < f < 1 for f in mnist["gemm_peak_fraction"].values())


@pytest.mark.e2e
def test_projection_is_runs_times_epochs_times_epoch_time(report):
    mnist = report["projection"]["mnist"]
    timing = report["timing"]["models"]["mnist"]
    epoch_s = {**timing["epoch_s"], "official": timing["official_epoch_s"]}
    assert mnist["epoch_s"] == epoch_s
    # by hand: 24 losses x 3 seeds, 5 symmetric / 4 asymmetric rates; every loss trains 50
    # epochs on MNIST except NLNL's 720
    per_rate_and_seed = 23 * 50 + 720
    expected = {
        "sym": (24 * 5 * 3, 5 * 3 * per_rate_and_seed),
        "asym": (24 * 4 * 3, 4 * 3 * per_rate_and_seed),
    }
    expected["total"] = (sum(r for r, _ in expected.values()), sum(e for _, e in expected.values()))
    for kind, (runs, epochs) in expected.items():
        table = mnist["tables"][kind]
        assert (table["runs"], table["epochs"]) == (runs, epochs), kind
        for pipeline, seconds in epoch_s.items():
            assert table["projected_s"][pipeline] == pytest.approx(epochs * seconds)
    # not timed in this run: the table sizes are there, no projection
    cifar100 = report["projection"]["cifar100"]
    assert cifar100["tables"]["sym"]["runs"] == 360 and cifar100["tables"]["sym"][
        "epochs"
    ] == 5 * 3 * (23 * 200 + 2000)
    assert cifar100["tables"]["sym"]["projected_s"] == {} and "note" in cifar100["tables"]


def test_training_flops_are_counted_by_hooks():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 10)
    )
    x = torch.zeros(5, 1, 8, 8)
    macs = 4 * 6 * 6 * 9 + 144 * 10  # per image: conv outputs x kernel size, linear out x in
    assert benchmark.forward_macs(model, x) == 5 * macs
    assert benchmark.train_flops_per_image(model, x) == 3 * 2 * macs
    assert model.training and not model[0]._forward_hooks  # left as it was found


def test_a_failed_part_is_recorded_and_the_next_one_runs(tmp_path):
    report = {}
    out = tmp_path / "r.json"

    def broken():
        raise ValueError("boom")

    gpu_check_lib.timed_part(report, "timing", out, broken)
    gpu_check_lib.timed_part(report, "projection", out, lambda: {"x": 1})
    saved = json.loads(out.read_text())
    assert saved["timing"]["status"] == "failed" and "ValueError: boom" in saved["timing"]["error"]
    assert saved["projection"]["status"] == "ok" and saved["projection"]["x"] == 1


def test_a_part_past_its_budget_is_killed_with_what_it_started():
    import subprocess

    with pytest.raises(subprocess.TimeoutExpired):
        # a child of the child, like the trainings the cuda tests start
        gpu_check_lib.run_group(["bash", "-c", "sleep 30 & wait"], 0.5)


def test_an_out_that_is_not_its_report_is_kept(tmp_path, capsys):
    out = tmp_path / "gpu_check.json"
    out.write_text('{"my": "notes"}')
    assert gpu_check.main(["--dry-run", "--out", str(out)]) == 2
    assert "is not a report of gpu_check.py" in capsys.readouterr().err
    assert out.read_text() == '{"my": "notes"}'
