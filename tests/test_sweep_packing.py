"""scripts/sweep.py packing several runs onto each device (--devices, --jobs-per-device): the
scheduler as a unit with fake runs, and one small real sweep on fake MNIST (2 runs at once on
the CPU), whose runs record the device and threads they got."""

import json
import os
import threading
import time

import fake_data
import pytest

from engine import sweep as sweep_lib
from scripts import sweep


def fake_runs(n, tmp_path):
    return [
        sweep_lib.Run("mnist", "sym", "0.4", "ce", seed, tmp_path / f"s{seed}") for seed in range(n)
    ]


class Recorder:
    """A fake execute(): holds its device for a moment and records how many runs each device
    held at once, and which device each run got."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now, self.peak, self.got = {}, {}, {}

    def __call__(self, run):
        with self.lock:
            self.now[run.device] = self.now.get(run.device, 0) + 1
            self.peak[run.device] = max(self.peak.get(run.device, 0), self.now[run.device])
            self.got[run.seed] = run.device
        time.sleep(0.05)
        with self.lock:
            self.now[run.device] -= 1
        return "done", "fake"


@pytest.mark.parametrize(
    "devices,per_device,n",
    [(["cpu"], 2, 6), (["cuda:0", "cuda:1"], 3, 13), (["cuda:0", "cuda:1", "cuda:2"], 1, 7)],
)
def test_scheduler_fills_each_device_up_to_its_count_and_never_more(
    devices, per_device, n, tmp_path
):
    record = Recorder()
    pool = sweep_lib.DevicePool(devices, per_device)
    results, _ = sweep_lib.run_all(fake_runs(n, tmp_path), pool, execute=record)
    assert len(results) == n and all(status == "done" for _, status, _ in results)
    assert record.peak == {d: per_device for d in devices}  # filled, never exceeded
    assert all(count == 0 for count in pool.busy.values())  # every slot handed back


def test_first_runs_are_dealt_round_robin(tmp_path):
    pool = sweep_lib.DevicePool(["cuda:0", "cuda:1"], 2)
    assert [pool.acquire() for _ in range(4)] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    pool.release("cuda:1")
    assert pool.acquire() == "cuda:1"  # the only device with a free slot


def test_a_full_pool_blocks_until_a_slot_is_released():
    pool = sweep_lib.DevicePool(["cpu"], 1)
    assert pool.acquire() == "cpu"
    got = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire()))
    waiter.start()
    time.sleep(0.1)
    assert got == []
    pool.release("cpu")
    waiter.join(timeout=5)
    assert got == ["cpu"]


def test_run_command_carries_its_device_after_the_sets(tmp_path):
    run = sweep_lib.Run("mnist", "sym", "0.4", "ce", 0, tmp_path, ["--set", "train.progress=false"])
    cmd = sweep_lib.replace(run, device="cuda:1").command()
    assert cmd[-3:] == ["--set", "train.progress=false", "train.device=cuda:1"]
    assert not any("train.device" in c for c in run.command())


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--devices", "cuda:0,cuda:0"], "distinct"),
        (["--devices", "gpu0"], "--devices"),
        (["--devices", "cpu", "--jobs", "2"], "--jobs-per-device"),
        (["--jobs-per-device", "2"], "needs --devices"),
        (["--devices", "cpu", "--jobs-per-device", "0"], "a number >= 1 or auto"),
    ],
)
def test_bad_packing_options_are_one_line_errors(argv, message, tmp_path, capsys):
    base = [
        "--dataset",
        "mnist",
        "--kinds",
        "sym",
        "--losses",
        "ce",
        "--sym-rates",
        "0.4",
        "--seeds",
        "0",
        "--out",
        str(tmp_path),
        "--dry-run",
    ]
    assert sweep.main(base + argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("error: ")


def test_auto_runs_one_at_a_time_on_the_cpu():
    assert sweep_lib.auto_jobs_per_device(["cpu"], "cnn4") == 1


@pytest.mark.e2e
def test_two_real_runs_at_once_on_the_cpu_record_device_and_threads(tmp_path):
    root = fake_data.write_fake_mnist(tmp_path / "data", n_train=128, n_test=32)
    out = tmp_path / "sweep"
    argv = [
        "--dataset",
        "mnist",
        "--kinds",
        "sym",
        "--losses",
        "ce",
        "--sym-rates",
        "0.4",
        "--seeds",
        "0,1",
        "--epochs",
        "1",
        "--data-root",
        str(root),
        "--out",
        str(out),
        "--devices",
        "cpu",
        "--jobs-per-device",
        "2",
        "--set",
        "train.batch_size=64",
    ]
    assert sweep.main(argv) == 0
    threads = max(1, (os.cpu_count() or 1) // 2)
    for seed in (0, 1):
        run = out / "mnist/sym/0.4/ce@release,batch_size=64,epochs=1" / f"seed{seed}"
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert [(r["device"], r["threads"]) for r in rows] == [("cpu", threads)]
        assert json.loads((run / "result.json").read_text())["provenance"]["device"] == "cpu"
        assert "train.device=cpu" in (run / "train.log").read_text()
