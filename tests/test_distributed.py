"""torchrun / DistributedDataParallel on the CPU (gloo, 2 processes, the digits dataset).

The expectation is one process: with train.sync_bn, two processes sharing each batch of the
same total size must train the same model up to float rounding (gradient all-reduce and BN
statistics sum in a different order). A last batch that does not split evenly (15 samples:
8 + 7) checks the loss weighting. Without sync_bn each process normalises with its own share's
BatchNorm statistics, a different experiment; that case is not expected to match.
"""

import json
import os
import subprocess
import sys

import pytest
import torch
from helpers import REPO, write_config

from engine.distributed import Dist

SUBSET, BATCH, EPOCHS = 1015, 100, 2  # 11 steps per epoch; the last one has 15 samples


def torchrun(script, args, env=None, processes=2):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
        str(script),
    ] + list(args)
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )


def train_args(config, out):
    return ["--config", str(config), "--out", str(out), "--train-subset", str(SUBSET)]


def metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def weights(out):
    return torch.load(out / "checkpoints" / "last.pt", weights_only=True)["model"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    config = write_config(
        root / "cfg.yaml",
        dataset="digits",
        loss={"name": "nce+rce", "alpha": 1.0, "beta": 1.0},
        train={
            "epochs": EPOCHS,
            "batch_size": BATCH,
            "device": "cpu",
            "threads": 1,
            "sync_bn": True,
        },
    )
    one = subprocess.run(
        [sys.executable, "train.py"] + train_args(config, root / "one"),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert one.returncode == 0, one.stderr[-2000:]
    two = torchrun("train.py", train_args(config, root / "two"))
    assert two.returncode == 0, two.stderr[-2000:]
    return root, config


@pytest.mark.parametrize("n", [0, 1, 7, 15, 100])
@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_shards_partition_a_batch_in_order(n, world):
    bounds = [Dist(rank=r, world=world).shard_bounds(n) for r in range(world)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(
        a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False)
    )  # contiguous, in order
    sizes = [hi - lo for lo, hi in bounds]
    assert max(sizes) - min(sizes) <= 1
    if n:
        # DDP averages the processes' gradients: the weights must average to 1
        mean_weight = (
            sum(Dist(rank=r, world=world).shard_weight(s, n) for r, s in enumerate(sizes)) / world
        )
        assert mean_weight == pytest.approx(1.0)


@pytest.mark.distributed
def test_two_processes_train_the_model_of_one(runs):
    root, _ = runs
    one, two = metrics(root / "one"), metrics(root / "two")
    assert [r["epoch"] for r in two] == list(range(1, EPOCHS + 1))  # rank 0 alone wrote rows
    for a, b in zip(one, two, strict=False):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-5)
        assert b["test_loss"] == pytest.approx(a["test_loss"], rel=1e-5)
        assert b["test_top1"] == pytest.approx(a["test_top1"], abs=100 / 359 + 1e-9)  # <= 1 image
        assert b["train_acc_noisy"] == pytest.approx(a["train_acc_noisy"], abs=100 / SUBSET + 1e-9)
    w1, w2 = weights(root / "one"), weights(root / "two")
    assert w1.keys() == w2.keys()  # sync BN saves the plain BatchNorm state: checkpoints mix
    diff = max((w1[k].double() - w2[k].double()).abs().max().item() for k in w1)
    assert diff < 1e-4, diff
    result = json.loads((root / "two" / "result.json").read_text())
    assert result["provenance"]["processes"] == 2 and result["config"]["train.batch_size"] == BATCH


@pytest.mark.distributed
def test_a_signal_to_one_rank_stops_both_and_resume_is_exact(runs):
    root, config = runs
    out = root / "interrupted"
    driver = REPO / "tests" / "interrupt_driver.py"
    # SIGTERM reaches rank 1 only, before step 2 of epoch 2; the processes agree every 10 steps
    stopped = torchrun(
        driver,
        ["SIGTERM", "1", "2", "--"] + train_args(config, out),
        env={"NLN_INTERRUPT_RANK": "1"},
    )
    assert stopped.returncode != 0
    assert not (out / "result.json").exists()
    ckpt = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert (ckpt["epoch"], ckpt["step"]) == (1, 10)  # both ranks stopped after step 10
    resumed = torchrun("train.py", train_args(config, out) + ["--resume"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    w_full, w_resumed = weights(root / "two"), weights(out)
    assert all(torch.equal(w_full[k], w_resumed[k]) for k in w_full)  # bit-exact on the CPU
    full, again = metrics(root / "two"), metrics(out)
    assert [r["test_top1"] for r in again] == [r["test_top1"] for r in full]
    assert again[-1]["train_loss"] == pytest.approx(full[-1]["train_loss"], rel=1e-12)


@pytest.mark.distributed
def test_a_user_error_on_rank_0_stops_every_rank_with_one_message(runs):
    root, config = runs
    # the directory holds a finished run and --resume is not given: rank 0 finds it, every
    # rank receives the error (none waits in a collective), and it is printed once
    again = torchrun("train.py", train_args(config, root / "two"))
    assert again.returncode != 0
    message = "already holds a finished run (result.json); pass --resume"
    assert again.stderr.count(message) == 1, again.stderr[-2000:]
    # with --resume it is recognised as finished on every rank: nothing to do, exit 0
    done = torchrun("train.py", train_args(config, root / "two") + ["--resume"])
    assert done.returncode == 0 and "nothing to do" in done.stdout


@pytest.mark.distributed
def test_nlnl_resume_is_exact_with_each_rank_own_rng_and_a_tiny_last_batch(tmp_path):
    """NLNL draws complementary labels from the global RNG: each process has its own stream
    (different samples must not get equal draws) and the checkpoint keeps all of them, so a
    mid-epoch resume is bit-exact. 1003 samples in batches of 50 leave a last batch of 3,
    fewer than 2 per process: it is dropped rather than trained with a 1-sample BatchNorm."""
    config = write_config(
        tmp_path / "cfg.yaml",
        dataset="digits",
        loss={"name": "nlnl", "ln_neg": 1},
        train={"epochs": 2, "batch_size": 50, "device": "cpu", "threads": 1},
    )
    args = ["--train-subset", "1003"]
    full = torchrun("train.py", ["--config", str(config), "--out", str(tmp_path / "full")] + args)
    assert full.returncode == 0, full.stderr[-2000:]
    out = tmp_path / "cut"
    cut = torchrun(
        REPO / "tests" / "interrupt_driver.py",
        ["SIGINT", "1", "4", "--", "--config", str(config), "--out", str(out)] + args,
    )
    assert cut.returncode != 0 and not (out / "result.json").exists()
    ckpt = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert (ckpt["epoch"], ckpt["step"]) == (1, 10)
    states = ckpt["rng_ranks"]
    assert len(states) == 2 and not torch.equal(states[0]["torch"], states[1]["torch"])
    resumed = torchrun("train.py", ["--config", str(config), "--out", str(out), "--resume"] + args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    w_full, w_cut = weights(tmp_path / "full"), weights(out)
    assert all(torch.equal(w_full[k], w_cut[k]) for k in w_full)
    assert metrics(tmp_path / "full")[-1]["test_top1"] == metrics(out)[-1]["test_top1"]
