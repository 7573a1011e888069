"""Reliability: real SIGKILLs at several points (one mid-checkpoint-write) resume bit-exactly;
bad configs, data, checkpoints and output dirs fail with one line and write nothing; NaN
handling; concurrent and failing sweeps. docs/RELIABILITY.md maps each case to its test."""

import json
import random
import subprocess
import sys
from pathlib import Path

import fake_data
import pytest
import torch
import yaml
from helpers import run_interrupted as driver

import train
from engine import experiment

pytestmark = pytest.mark.reliability  # every test here: faults, kills and resumes

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reference_run(config, root, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    assert train.main(["--config", str(config), "--data-root", str(root), "--out", str(out)]) == 0
    return out


def args_for(config, root, out):
    return ["--config", str(config), "--data-root", str(root), "--out", str(out)]


def same_weights(a, b):
    sa = torch.load(Path(a) / "checkpoints/last.pt", weights_only=True)["model"]
    sb = torch.load(Path(b) / "checkpoints/last.pt", weights_only=True)["model"]
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def rows(out):
    data = [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in data]


# ---------------------------------------------------------------------------- interruption


@pytest.mark.parametrize("epoch,step", [(0, 2), (1, 5), (2, 0)])
def test_sigkill_anywhere_then_resume_is_bit_exact(
    epoch, step, config, root, reference_run, tmp_path
):
    out = tmp_path / "run"
    done = driver(args_for(config, root, out), "SIGKILL", epoch, step)
    assert done.returncode == -9
    assert train.main(args_for(config, root, out) + ["--resume"]) == 0
    assert same_weights(out, reference_run)
    assert rows(out) == rows(reference_run)


def test_sigkill_during_checkpoint_write_keeps_previous_checkpoint(
    config, root, reference_run, tmp_path
):
    out = tmp_path / "run"
    # killed half-way through writing the epoch-2 checkpoint
    done = driver(args_for(config, root, out), "SIGKILL", 1, 0, during_checkpoint=True)
    assert done.returncode == -9
    assert list((out / "checkpoints").glob(".last.pt.*.tmp"))  # the torn write is a temp file
    ckpt = torch.load(out / "checkpoints/last.pt", weights_only=True)  # loads: intact
    assert ckpt["epoch"] == 1 and len(ckpt["history"]) == 1
    assert train.main(args_for(config, root, out) + ["--resume"]) == 0
    assert not list((out / "checkpoints").glob(".*.tmp"))  # cleaned up on resume
    assert same_weights(out, reference_run) and rows(out) == rows(reference_run)


def test_sigint_writes_checkpoint_and_says_how_to_resume(config, root, tmp_path):
    out = tmp_path / "run"
    done = driver(args_for(config, root, out), "SIGINT", 0, 1)
    assert done.returncode == 130
    assert "checkpoint saved" in done.stderr and "--resume" in done.stderr
    assert "Traceback" not in done.stderr
    assert torch.load(out / "checkpoints/last.pt", weights_only=True)["step"] == 2


# ---------------------------------------------------------------------------- bad input


def run_cli(args):
    return subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args], capture_output=True, text=True, cwd=REPO
    )


def assert_clean_failure(code, err, out: Path, before=None):
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code != 0
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    if before is None:
        assert not out.exists(), f"{out} was created"
    else:
        assert snapshot(out) == before


def snapshot(path: Path):
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


BAD_CONFIGS = {
    "malformed_yaml": "dataset: {name: mnist\n",
    "unknown_key": "dataset: {name: mnist}\ntrian: {epochs: 3}\n",
    "wrong_type": "dataset: {name: mnist}\ntrain: {batch_size: big}\n",
    "negative_lr": "dataset: {name: mnist}\noptim: {lr: -0.01}\n",
    "negative_epochs": "dataset: {name: mnist}\ntrain: {epochs: -1}\n",
    "rate_too_high": "dataset: {name: mnist}\nnoise: {kind: symmetric, rate: 1.2}\n",
    "rate_negative": "dataset: {name: mnist}\nnoise: {kind: symmetric, rate: -0.1}\n",
    "alpha_inf": "dataset: {name: mnist}\nloss: {name: nce+rce, alpha: .inf}\n",
    "beta_nan": "dataset: {name: mnist}\nloss: {name: nce+mae, beta: .nan}\n",
    "no_such_loss": "dataset: {name: mnist}\nloss: {name: ncee}\n",
    "num_classes": "dataset: {name: mnist, num_classes: 100}\n",
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config_cli(name, tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(BAD_CONFIGS[name])
    out = tmp_path / "out"
    done = run_cli(["--config", str(cfg), "--out", str(out)])
    assert done.returncode == 2
    assert_clean_failure(done.returncode, done.stderr, out)


def test_debug_flag_shows_traceback(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(BAD_CONFIGS["negative_lr"])
    done = run_cli(["--config", str(cfg), "--out", str(tmp_path / "o"), "--debug"])
    assert done.returncode != 0 and "Traceback" in done.stderr


def corrupt(path: Path, how: str):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if how == "truncate" else b"\x00garbage" * 50)


@pytest.mark.parametrize("case", ["missing", "truncated_images", "garbage_labels", "bad_magic"])
def test_bad_dataset(case, config, tmp_path, capsys):
    data = fake_data.write_fake_mnist(tmp_path / "data", n_train=64, n_test=32)
    raw = data / "MNIST/raw"
    if case == "missing":
        data = tmp_path / "nowhere"
    elif case == "truncated_images":
        corrupt(raw / "train-images-idx3-ubyte", "truncate")
    elif case == "garbage_labels":
        corrupt(raw / "t10k-labels-idx1-ubyte", "garbage")
    else:
        b = bytearray((raw / "train-labels-idx1-ubyte").read_bytes())
        b[3] = 0x99
        (raw / "train-labels-idx1-ubyte").write_bytes(bytes(b))
    out = tmp_path / "out"
    code = train.main(args_for(config, data, out))
    err = capsys.readouterr().err
    assert_clean_failure(code, err, out)
    assert str(data) in err or "MNIST" in err


@pytest.mark.parametrize("case", ["truncated", "garbage", "other_model"])
def test_bad_checkpoint_on_resume(case, config, root, reference_run, tmp_path, capsys):
    out = tmp_path / "run"
    assert driver(args_for(config, root, out), "SIGTERM", 1, 1).returncode == 143
    ckpt = out / "checkpoints/last.pt"
    extra = []
    if case == "other_model":
        # a checkpoint of another architecture in this run's place
        state = torch.load(ckpt, weights_only=True)
        from models import build_model

        state["model"] = build_model("resnet18", 10, 1, 28).state_dict()
        torch.save(state, ckpt)
        extra = ["--force-resume"]
    else:
        corrupt(ckpt, "truncate" if case == "truncated" else "garbage")
    before = snapshot(out)
    code = train.main(args_for(config, root, out) + ["--resume"] + extra)
    err = capsys.readouterr().err
    assert_clean_failure(code, err, out, before)
    assert ("truncated or corrupt" in err) if case != "other_model" else ("does not fit" in err)


def test_output_dir_not_writable(config, root, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    out = blocker / "run"
    code = train.main(args_for(config, root, out))
    assert code == 2 and "not writable" in capsys.readouterr().err
    ro = Path("/proc/self/fdinfo/run")  # a read-only location even for root
    code = train.main(args_for(config, root, ro))
    assert code == 2 and "not writable" in capsys.readouterr().err


def test_output_dir_with_different_finished_run(config, root, reference_run, tmp_path, capsys):
    before = snapshot(reference_run)
    code = train.main(
        args_for(config, root, reference_run) + ["--resume", "--set", "loss.beta=1.0"]
    )
    err = capsys.readouterr().err
    assert_clean_failure(code, err, reference_run, before)
    assert "different finished run" in err and "loss.beta: 10.0 -> 1.0" in err


def mutate(rng: random.Random) -> str:
    """A config that is wrong in one random way (never accidentally valid)."""
    base = {
        "dataset": {"name": "mnist"},
        "noise": {"kind": "symmetric", "rate": 0.2},
        "loss": {"name": "nce+rce", "alpha": 1.0, "beta": 1.0},
        "optim": {"lr": 0.01, "weight_decay": 1e-4},
        "train": {"epochs": 2, "batch_size": 8},
    }
    numeric = [
        ("optim", "lr"),
        ("optim", "weight_decay"),
        ("train", "epochs"),
        ("train", "batch_size"),
        ("noise", "rate"),
        ("loss", "alpha"),
        ("loss", "beta"),
    ]
    kind = rng.choice(["unknown_key", "bad_type", "bad_value", "bad_name", "yaml", "not_map"])
    if kind == "unknown_key":
        block = rng.choice(list(base))
        base[block]["x" + "".join(rng.choices("abcdefgh_", k=6))] = 1
    elif kind == "bad_type":
        block, key = rng.choice(numeric)
        base[block][key] = rng.choice(["abc", [1, 2], {"a": 1}, True, ""])
    elif kind == "bad_value":
        block, key = rng.choice(numeric)
        base[block][key] = rng.choice(
            [-1.0, -1e-9, float("nan"), float("inf"), -float("inf")]
            + ([1.0, 1.5] if key == "rate" else [])
        )
    elif kind == "bad_name":
        block, key = rng.choice(
            [("dataset", "name"), ("loss", "name"), ("noise", "kind"), ("noise", "variant")]
        )
        base[block][key] = rng.choice(["", "xyz", "nce++rce", "MNIST_", "cifar-10", "sym"])
    elif kind == "yaml":
        text = yaml.safe_dump(base)
        i = rng.randrange(len(text))
        return text[:i] + rng.choice(["{", "[", ": :", "\t", "'"]) + text[i:]
    else:
        return yaml.safe_dump(rng.choice([[1, 2, 3], "just a string", 42]))
    return yaml.safe_dump(base)


def test_fuzz_malformed_configs_fail_cleanly(root, tmp_path, capsys):
    rng = random.Random(1234)
    for i in range(150):
        text = mutate(rng)
        cfg = tmp_path / f"fuzz{i}.yaml"
        cfg.write_text(text)
        out = tmp_path / f"out{i}"
        try:
            code = train.main(args_for(cfg, root, out) + ["--set", "train.progress=false"])
        except Exception as e:  # any escape is a failure of the contract
            pytest.fail(f"config {i} raised {type(e).__name__}: {e}\n{text}")
        err = capsys.readouterr().err
        assert code == 2, f"config {i} was accepted:\n{text}"
        assert_clean_failure(code, err, out)


# ---------------------------------------------------------------------------- numerical faults


@pytest.fixture
def nan_at_step(monkeypatch):
    """Make the model's training forward return NaN logits at global step `n`."""

    def install(n):
        original = experiment.build_model
        calls = {"train": 0}

        def build(*a, **k):
            model = original(*a, **k)

            def hook(module, inputs, output):
                if module.training:
                    calls["train"] += 1
                    if calls["train"] == n + 1:
                        return output * float("nan")
                return output

            model.register_forward_hook(hook)
            return model

        monkeypatch.setattr(experiment, "build_model", build)  # what build_experiment calls

    return install


def test_nan_stops_run_and_keeps_last_good_checkpoint(nan_at_step, config, root, tmp_path, capsys):
    out = tmp_path / "run"
    nan_at_step(6 + 3)  # 6 steps per epoch (192 / 32): step 3 of epoch 2
    code = train.main(args_for(config, root, out))
    err = capsys.readouterr().err
    assert code == 2 and "non-finite loss or gradient at epoch 2, step 3" in err
    assert "nce=nan" in err and "rce=nan" in err
    ckpt = torch.load(out / "checkpoints/last.pt", weights_only=True)
    assert ckpt["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
    assert not (out / "result.json").exists()


def test_nan_skip_policy_counts_skipped_steps(nan_at_step, config, root, tmp_path):
    out = tmp_path / "run"
    nan_at_step(4)
    assert train.main(args_for(config, root, out) + ["--set", "train.nan_policy=skip"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["skipped_steps"] == 1
    assert rows(out)[0]["skipped_steps"] == 1


# ---------------------------------------------------------------------------- sweeps


def sweep(out, root, *extra):
    cmd = [
        sys.executable,
        str(REPO / "scripts/sweep.py"),
        "--dataset",
        "mnist",
        "--kinds",
        "sym",
        "--losses",
        "ce,nce",
        "--sym-rates",
        "0.2,0.4",
        "--seeds",
        "0",
        "--epochs",
        "1",
        "--data-root",
        str(root),
        "--out",
        str(out),
        *extra,
    ]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO
    )


@pytest.mark.slow
def test_two_sweeps_never_run_the_same_run_twice_and_failures_are_retried(root, tmp_path):
    out = tmp_path / "sweep"
    # one run is broken: a corrupt checkpoint sits in its directory
    # --epochs 1: a variant of the config (and MNIST's default recipe, release, is named)
    broken = out / "mnist/sym/0.4/nce@release,epochs=1/seed0"
    (broken / "checkpoints").mkdir(parents=True)
    (broken / "checkpoints/last.pt").write_bytes(b"not a checkpoint")
    first, second = sweep(out, root), sweep(out, root)
    logs = [p.communicate(timeout=600)[0] for p in (first, second)]
    runs = list(out.glob("mnist/sym/*/*/seed0"))
    assert len(runs) == 4
    for run in runs:
        starts = (run / "train.log").read_text().count("\n=== ")
        assert starts == 1, f"{run} was started {starts} times"
    assert (broken / "failed.json").is_file() and not (broken / "result.json").exists()
    assert "truncated or corrupt" in json.loads((broken / "failed.json").read_text())["error"]
    done = sum(log.count("[done]") for log in logs)
    assert done == 3 and sum(log.count("[failed]") for log in logs) == 1
    assert all("summary:" in log for log in logs)
    # fix the broken run; the re-run retries only it
    (broken / "checkpoints/last.pt").unlink()
    third = sweep(out, root)
    log = third.communicate(timeout=600)[0]
    assert third.returncode == 0
    assert "summary: 1 done, 0 failed, 3 skipped" in log
    assert not (broken / "failed.json").exists() and (broken / "result.json").is_file()
