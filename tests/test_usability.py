"""What a new user trips over (issue 15): resuming from the run directory alone, records of
forced and changed resumes, threads per epoch, fast --help, file modes, config and checkpoint
messages, the noise estimate's sample, sweeps interrupted with Ctrl-C."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_interrupted, write_config

import train
from engine import sweep as sweep_lib
from scripts import sweep

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def weights(out):
    return torch.load(Path(out) / "checkpoints/last.pt", weights_only=True)["model"]


def metric_rows(out):
    return [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]


def hinted_command(stderr: str) -> list[str]:
    """train.py's arguments in the "Resume with: python train.py ..." line."""
    line = next(text for text in stderr.splitlines() if "Resume with: " in text)
    command = shlex.split(line.split("Resume with: ", 1)[1])
    assert command[:2] == ["python", "train.py"]
    return command[2:]


# ---------------------------------------------------------------------------- 1. resume


@pytest.mark.e2e
def test_the_printed_resume_command_alone_resumes_with_every_original_flag(config, root, tmp_path):
    flags = [
        "--config",
        str(config),
        "--data-root",
        str(root),
        "--noise-rate",
        "0.2",
        "--epochs",
        "2",
        "--seed",
        "3",
        "--train-subset",
        "128",
        "--set",
        "optim.lr=0.02",
    ]
    reference = tmp_path / "reference"
    assert train.main(flags + ["--out", str(reference)]) == 0
    out = tmp_path / "run"
    done = run_interrupted(flags + ["--out", str(out)], "SIGINT", epoch=1, step=1)
    assert done.returncode == 130
    resume = hinted_command(done.stderr)
    assert "--config" not in resume and "--noise-rate" not in resume
    assert train.main(resume) == 0
    cfg = json.loads((out / "result.json").read_text())["config"]
    assert (
        cfg["noise.rate"],
        cfg["train.epochs"],
        cfg["train.seed"],
        cfg["dataset.train_subset"],
        cfg["optim.lr"],
    ) == (0.2, 2, 3, 128, 0.02)
    expected, got = weights(reference), weights(out)
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_resume_without_config_on_an_empty_directory_is_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "--resume", "--out", str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1
    assert "holds no config.yaml to resume from" in lines[0] and "--config" in lines[0]


# ---------------------------------------------------------------------------- 2 and 6: records


@pytest.mark.e2e
def test_a_forced_resume_records_what_changed_and_where(config, root, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--config", str(config), "--data-root", str(root), "--out", str(out)]
    assert run_interrupted(args, "SIGINT", epoch=1, step=2).returncode == 130
    assert train.main(args + ["--resume", "--force-resume", "--noise-rate", "0.2"]) == 0
    assert "recorded in result.json" in capsys.readouterr().out
    result = json.loads((out / "result.json").read_text())
    assert result["forced_resume"] is True
    assert result["resumes"] == [
        {
            "epoch": 1,
            "step": 3,
            "forced": True,
            "changes": [
                "noise.rate: 0.4 -> 0.2",
                "the noisy training labels differ (noise seed, rate, kind or data)",
            ],
        }
    ]
    header = (out / "config.yaml").read_text().splitlines()[0]
    assert header.startswith("# resumed at epoch 1 step 3 with --force-resume: noise.rate")


@pytest.mark.e2e
def test_threads_are_recorded_per_epoch_and_a_changed_count_on_resume(
    config, root, tmp_path, keep_threads
):
    out = tmp_path / "run"
    args = ["--config", str(config), "--data-root", str(root), "--out", str(out)]
    done = run_interrupted(
        args + ["--set", "train.threads=1"], "SIGTERM", epoch=2, step=0
    )  # after step 0
    assert done.returncode == 143
    assert train.main(args + ["--resume", "--set", "train.threads=2"]) == 0
    assert [r["threads"] for r in metric_rows(out)] == [1, 1, 2]
    result = json.loads((out / "result.json").read_text())
    assert result["forced_resume"] is False
    assert result["resumes"] == [
        {"epoch": 2, "step": 1, "forced": False, "changes": ["train.threads: 1 -> 2"]}
    ]
    assert "# resumed at epoch 2 step 1: train.threads: 1 -> 2" in (out / "config.yaml").read_text()


def test_sweep_says_that_it_sets_threads(tmp_path, capsys):
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
    assert sweep.main(base + ["--jobs", "2"]) == 0
    expected = f"train.threads={max(1, (os.cpu_count() or 1) // 2)}"
    out = capsys.readouterr().out
    assert f"note: --jobs 2 on {os.cpu_count()} cores: every run gets --set {expected}" in out
    assert sweep.main(base + ["--jobs", "2", "--set", "train.threads=2"]) == 0
    assert "note:" not in capsys.readouterr().out
    assert sweep.main(base) == 0
    assert "note:" not in capsys.readouterr().out


# ---------------------------------------------------------------------------- 7. sweep Ctrl-C


class ScriptedRun(sweep_lib.Run):
    """A sweep run whose 'training' is a Python snippet."""

    def __init__(self, out, code):
        super().__init__("mnist", "sym", "0.4", "ce", 0, out)
        self.code = code

    def command(self, python=sys.executable):
        return [python, "-c", self.code]


def test_a_run_that_finished_before_the_interrupt_is_done_not_failed(tmp_path):
    out = tmp_path / "run"
    result = json.dumps({"last": {"test_top1": 91.5}})
    finished_then_interrupted = (
        f"import pathlib, sys; pathlib.Path({str(out)!r}, "
        f"'result.json').write_text({result!r}); sys.exit(130)"
    )
    status, detail = sweep_lib.execute(ScriptedRun(out, finished_then_interrupted))
    assert status == "done" and "91.50" in detail
    assert not (out / "failed.json").exists()


def test_an_interrupted_run_is_reported_as_interrupted_and_resumed_later(tmp_path):
    out = tmp_path / "run"
    status, detail = sweep_lib.execute(ScriptedRun(out, "import sys; sys.exit(130)"))
    assert status == "interrupted" and "resumes" in detail
    assert not (out / "failed.json").exists()
    status, _ = sweep_lib.execute(ScriptedRun(out, "import sys; sys.exit(1)"))
    assert status == "failed" and (out / "failed.json").is_file()


# ---------------------------------------------------------------------------- 8. --help

ENTRY_POINTS = ["train.py", "evaluate.py"] + sorted(
    p.relative_to(REPO).as_posix()
    for p in (REPO / "scripts").glob("*.py")
    if p.name != "__init__.py"
)


@pytest.mark.parametrize("script", ENTRY_POINTS)
def test_help_does_not_import_torch(script):
    probe = (
        "import runpy, sys\n"
        f"sys.argv = [{script!r}, '--help']\n"
        "try:\n"
        f"    runpy.run_path({str(REPO / script)!r}, run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO TORCH')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    assert "--help" in done.stdout or "-h, " in done.stdout, done.stderr
    assert done.stdout.strip().endswith("NO TORCH"), done.stderr


@pytest.mark.parametrize("module", ["sweep", "tables"])
def test_every_script_flag_has_help_and_shows_its_default(module):
    from scripts import tables

    parser = {"sweep": sweep, "tables": tables}[module].build_parser()
    text = parser.format_help()
    for action in parser._actions:
        if action.dest == "help":
            continue
        assert action.help, f"{action.option_strings} has no help"
        if action.default not in (None, False):
            assert f"(default: {action.default})" in " ".join(text.split()), action.dest


# ---------------------------------------------------------------------------- 9. file modes


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_atomic_writes_respect_the_umask(tmp_path, umask, mode):
    from engine.io import write_text_atomic

    old = os.umask(umask)
    try:
        write_text_atomic(tmp_path / "f.txt", "x")
        (tmp_path / "plain.txt").write_text("x")  # what any other file gets
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == mode
    assert (tmp_path / "plain.txt").stat().st_mode & 0o777 == mode


# ---------------------------------------------------------------------------- 10. messages


def one_error_line(done):
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def run_cli(*args):
    return subprocess.run(
        [sys.executable, str(REPO / "train.py"), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )


def test_a_binary_config_is_one_line(tmp_path):
    cfg = tmp_path / "model.pt"
    cfg.write_bytes(b"PK\x03\x04\x00\x00\xff\xfe\x89binary")
    line = one_error_line(run_cli("--config", cfg, "--out", tmp_path / "o"))
    assert "not a text (UTF-8) YAML file" in line and ".yaml config" in line
    assert not (tmp_path / "o").exists()


def test_a_config_naming_only_the_dataset_says_which_defaults_it_uses(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("dataset: {name: mnist}\n")
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = run_cli("--config", cfg, "--out", blocker / "run")  # stops before any training
    assert (
        "note: the config names no loss.name / noise.kind; using the default(s) "
        "loss.name=ce, noise.kind=none"
    ) in done.stdout
    assert "not writable" in one_error_line(done)
    named = tmp_path / "named.yaml"
    named.write_text("dataset: {name: mnist}\nloss: {name: ce}\nnoise: {kind: none}\n")
    assert "note:" not in run_cli("--config", named, "--out", blocker / "run").stdout


def test_a_child_loss_block_without_a_name_explains_the_replacement(tmp_path):
    (tmp_path / "parent.yaml").write_text(
        "dataset: {name: mnist}\nloss: {name: nce+rce, alpha: 1.0, beta: 1.0}\n"
    )
    child = tmp_path / "child.yaml"
    child.write_text("inherit: parent.yaml\nloss: {beta: 10.0}\n")
    line = one_error_line(run_cli("--config", child, "--out", tmp_path / "o"))
    assert "sets loss.beta without loss.name" in line
    assert "a child's `loss:` block replaces its parent's whole block" in line
    assert "'nce+rce'" in line and "--set loss.beta=VALUE" in line


def test_a_truncated_checkpoint_message_keeps_whole_sentences(tmp_path):
    from engine.checkpoint import load_checkpoint
    from engine.errors import CheckpointError

    path = tmp_path / "last.pt"
    torch.save({"weights": torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(RuntimeError) as raw:
        torch.load(path, weights_only=True)
    first = str(raw.value).split(". ")[0]
    with pytest.raises(CheckpointError) as ours:
        load_checkpoint(path)
    message = str(ours.value)
    assert f"({first}); delete it to start over" in message  # the whole sentence, then the fix
    assert message.endswith("or restore it from a backup")


# ---------------------------------------------------------------------------- 11. resume notes


@pytest.mark.e2e
def test_resume_with_nothing_to_resume_says_so_and_starts_fresh(config, root, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--config", str(config), "--data-root", str(root), "--out", str(out), "--epochs", "1"]
    assert train.main(args + ["--resume"]) == 0
    assert f"note: {out} holds nothing to resume (no checkpoint); starting a fresh run" in (
        capsys.readouterr().out
    )
    assert (out / "result.json").is_file()


@pytest.mark.e2e
def test_a_killed_runs_tensorboard_file_is_replaced_on_resume(config, root, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    args = ["--config", str(config), "--data-root", str(root), "--out", str(out)]
    assert run_interrupted(args, "SIGKILL", epoch=2, step=2).returncode == -9
    assert train.main(args + ["--resume"]) == 0
    files = list((out / "tb").glob("events.out.tfevents.*"))
    assert len(files) == 1
    events = EventAccumulator(str(files[0]))
    events.Reload()
    top1 = [(e.step, e.value) for e in events.Scalars("test_top1")]
    expected = [(r["epoch"], r["test_top1"]) for r in metric_rows(out)]
    assert [s for s, _ in top1] == [1, 2, 3]
    assert np.allclose([v for _, v in top1], [v for _, v in expected])


# ---------------------------------------------------------------------------- 12. estimate


@pytest.mark.e2e
def test_noise_estimate_is_out_of_sample_on_the_noisy_validation_split(root, tmp_path):
    cfg = write_config(tmp_path / "c.yaml", train={"epochs": 1})
    out = tmp_path / "run"
    assert (
        train.main(
            [
                "--config",
                str(cfg),
                "--data-root",
                str(root),
                "--out",
                str(out),
                "--set",
                "dataset.noisy_val_fraction=0.25",
            ]
        )
        == 0
    )
    estimate = json.loads((out / "result.json").read_text())["noise_estimate"]
    val = np.load(out / "noisy_val_indices.npy")
    noisy, clean = np.load(out / "noisy_labels.npy"), np.arange(192) % 10  # fake labels cycle
    assert estimate["out_of_sample"] is True
    assert estimate["sample"] == f"noisy validation split ({len(val)} held-out samples)"
    assert estimate["injected_rate"] == pytest.approx(np.mean(noisy[val] != clean[val]))


@pytest.mark.e2e
def test_noise_estimate_without_a_split_is_marked_in_sample(root, tmp_path):
    cfg = write_config(tmp_path / "c.yaml", train={"epochs": 1})
    out = tmp_path / "run"
    assert train.main(["--config", str(cfg), "--data-root", str(root), "--out", str(out)]) == 0
    estimate = json.loads((out / "result.json").read_text())["noise_estimate"]
    assert estimate["out_of_sample"] is False and estimate["sample"].startswith("IN-SAMPLE")
    noisy = np.load(out / "noisy_labels.npy")
    assert estimate["injected_rate"] == pytest.approx(np.mean(noisy != np.arange(192) % 10))


def test_an_all_zero_transition_row_is_explained():
    from noise import compare_estimate, estimate_noise

    K = 3
    noisy = np.array([0, 0, 1, 1, 2, 2])
    probs = np.full((6, K), 0.05)
    probs[:, 0] = 0.9  # the model never predicts classes 1 and 2: nothing is "truly" theirs
    estimate = estimate_noise(probs, noisy, K)
    assert estimate["empty_rows"] == [1, 2]
    report = compare_estimate(estimate, np.eye(K), 0.0, "test", True)
    assert report["empty_rows"] == [1, 2] and "true class(es) [1, 2]" in report["empty_rows_note"]
    assert report["transition_estimated"][1] == [0.0, 0.0, 0.0]


# ---------------------------------------------------------------------------- 13. README


def test_readme_writes_the_run_directory_pattern_one_way():
    import re

    from engine.experiment import load_config, run_coordinates
    from engine.record import run_path

    readme = (REPO / "README.md").read_text()
    patterns = set(re.findall(r"runs/<dataset>/[^`\s)]*", readme))
    help_text = (REPO / "train.py").read_text()
    assert patterns == {"runs/<dataset>/<kind>/<rate>/<loss>/seed<S>"}
    assert "runs/<dataset>/<kind>/<rate>/<loss>/seed<S>" in help_text
    assert "runs/<dataset>/<noise>" not in help_text
    path = REPO / "configs/mnist/sym/ce.yaml"
    cfg = load_config(path, overrides={"train.seed": 1, "recipe": "paper"})
    assert run_path("runs", run_coordinates(cfg, path)) == Path("runs/mnist/sym/0.4/ce/seed1")
    # MNIST's default recipe (release, not the paper-era one) is named in the folder
    cfg = load_config(path, overrides={"train.seed": 1})
    assert run_path("runs", run_coordinates(cfg, path)) == Path(
        "runs/mnist/sym/0.4/ce@release/seed1"
    )
    # a run that changes its config is filed apart, named by what it changes
    cfg = load_config(
        path,
        overrides={"train.seed": 1, "recipe": "release"},
        sets=["loss.scale=2", "train.threads=1"],
    )
    assert run_path("runs", run_coordinates(cfg, path)) == Path(
        "runs/mnist/sym/0.4/ce@release,scale=2/seed1"
    )


@pytest.mark.e2e
def test_without_out_a_run_goes_to_the_sweeps_layout_under_runs(
    config, root, tmp_path, monkeypatch
):
    """train.py's default run directory is engine/record.py run_path, the one the sweep and the
    tables use: runs/<dataset>/<kind>/<rate>/<loss>/seed<S>, relative to the working directory."""
    monkeypatch.chdir(tmp_path)
    assert train.main(["--config", str(config), "--data-root", str(root), "--epochs", "1"]) == 0
    [result] = (tmp_path / "runs").glob("*/*/*/*/*/result.json")
    # --epochs 1 changes the config's 50 epochs: a variant, filed apart from full runs
    assert (
        result.parent.relative_to(tmp_path).as_posix()
        == "runs/mnist/sym/0.4/nce+rce@epochs=1/seed0"
    )
