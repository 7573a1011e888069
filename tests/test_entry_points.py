"""Every command-line entry point fed what a user mistypes (issue 25): one line naming the
problem and the fix, nothing written; the sweep asks the question train.py asks before it
skips a run; paths mean what they mean where they were typed."""

import json
import os
from pathlib import Path

import pytest

from engine import sweep as sweep_lib
from engine.experiment import load_config
from scripts import benchmark, benchmark_loading, sweep, tables

REPO = Path(__file__).resolve().parents[1]
SWEEP = [
    "--dataset",
    "mnist",
    "--kinds",
    "sym",
    "--losses",
    "nce+rce",
    "--sym-rates",
    "0.4",
    "--seeds",
    "0",
]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--seeds", "0,x"], "--seeds '0,x': give integers >= 0"),
        (["--seeds", "-1"], "--seeds '-1': give integers >= 0"),
        (["--kinds", "symmetric"], "--kinds 'symmetric': give sym, asym or sym,asym"),
        (["--sym-rates", "0.4,a"], "--sym-rates '0.4,a': give numbers"),
        (["--grid", "loss.beta"], "--grid 'loss.beta': give KEY=V1,V2"),
        (
            ["--grid", "loss.betta=1,10"],
            "unknown parameter(s) ['betta'] for loss 'nce+rce' (did you mean 'beta'?)",
        ),
        (["--recipe", "relase"], "has no recipe 'relase'; did you mean 'release'"),
        (["--set", "optim.lrr=1"], "unknown config key 'optim.lrr'"),
    ],
)
def test_sweep_bad_input_is_one_line(argv, match, tmp_path, capsys):
    assert sweep.main(SWEEP + ["--out", str(tmp_path), "--dry-run"] + argv) == 2
    assert match in one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "main,argv,match",
    [
        (benchmark.main, ["--steps", "0"], "--steps 0: must be >= 1"),
        (benchmark.main, ["--models", "mnist,svhn"], "--models 'mnist,svhn': choose from"),
        (benchmark_loading.main, ["--synthetic", "8", "--batch", "0"], "--batch 0: must be >= 1"),
        (
            tables.main,
            ["--runs", "x", "--dataset", "mnist", "--published", "arxiv"],
            "unknown --published source(s) ['arxiv']",
        ),
    ],
)
def test_other_commands_answer_bad_input_in_one_line(main, argv, match, capsys):
    assert main(argv) == 2
    assert match in one_line_error(capsys)


def test_prepare_webvision_default_is_the_datasets_class_count():
    from datasets import webvision
    from scripts import prepare_webvision

    assert prepare_webvision.MINI_CLASSES == webvision.NUM_CLASSES


# ------------------------------------------------------------------------------ the sweep


def plan(tmp_path, *extra):
    return sweep_lib.build_runs(
        sweep.build_parser().parse_args(SWEEP + ["--out", str(tmp_path), *extra])
    )


def test_each_grid_point_and_recipe_gets_a_folder_of_its_own(tmp_path):
    runs = plan(tmp_path, "--grid", "loss.beta=1,10", "--grid", "optim.lr=0.01,0.02")
    names = sorted(r.out.relative_to(tmp_path).as_posix() for r in runs)
    # MNIST runs the release recipe by default: its name leads every folder's variant
    assert names == [
        "mnist/sym/0.4/nce+rce@release,beta=1,lr=0.02/seed0",
        "mnist/sym/0.4/nce+rce@release,beta=1/seed0",
        "mnist/sym/0.4/nce+rce@release,lr=0.02/seed0",
        "mnist/sym/0.4/nce+rce@release/seed0",  # beta 10, lr 0.01: the config
    ]
    assert {(r.cfg["loss.beta"], r.cfg["optim.lr"]) for r in runs} == {
        (1.0, 0.01),
        (1.0, 0.02),
        (10.0, 0.01),
        (10.0, 0.02),
    }
    [paper] = plan(tmp_path, "--recipe", "paper")
    assert paper.out == tmp_path / "mnist/sym/0.4/nce+rce/seed0"  # the paper-era recipe
    assert (paper.cfg["optim.weight_decay"], paper.cfg["optim.nesterov"]) == (0.001, False)
    assert "--recipe" in paper.command() and "paper" in paper.command()


def finish(run, cfg):
    run.out.mkdir(parents=True)
    (run.out / "result.json").write_text(
        json.dumps({"last": {"epoch": 1, "test_top1": 50.0}, "config": cfg})
    )


def test_a_finished_run_of_another_config_is_refused_not_skipped(tmp_path):
    """Issue 25: a finished run at the same coordinates used to count as done whatever it had
    trained. The sweep now compares configs, as train.py does before it skips."""
    [run] = plan(tmp_path)
    other = load_config(
        REPO / "configs/mnist/sym/nce+rce.yaml",
        overrides={"noise.rate": 0.4, "train.seed": 0},
        sets=["loss.beta=1"],
    )
    finish(run, other)
    status, detail = sweep_lib.execute(run)
    assert status == "refused" and "loss.beta: 1 -> 10.0" in detail
    [again] = plan(tmp_path / "b")
    finish(again, again.cfg)
    assert sweep_lib.execute(again) == ("skipped", "already finished")


def test_relative_paths_mean_where_they_were_typed(tmp_path, monkeypatch):
    """The trainings run from the repository root; --out and --data-root given relative to
    another directory are resolved there first."""
    monkeypatch.chdir(tmp_path)
    args = sweep.build_parser().parse_args(
        SWEEP + ["--out", "rel", "--data-root", "d", "--dry-run"]
    )
    assert sweep_lib.run_sweep(args, []) == 0
    [run] = sweep_lib.build_runs(args)
    assert run.out == tmp_path / "rel/mnist/sym/0.4/nce+rce@release/seed0"
    command = run.command()
    assert command[command.index("--data-root") + 1] == str(tmp_path / "d")


def test_an_interrupted_sweep_exits_130(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sweep_lib, "run_all", lambda runs, pool: ([], True))
    assert sweep.main(SWEEP + ["--out", str(tmp_path)]) == 130


def test_the_slurm_hint_is_quoted(tmp_path, capsys):
    script = tmp_path / "my jobs" / "sweep.sbatch"
    script.parent.mkdir()
    assert sweep.main(SWEEP + ["--out", str(tmp_path), "--slurm", str(script)]) == 0
    assert f"submit with: sbatch '{script}'" in capsys.readouterr().out


# --------------------------------------------------------------------------- run directory


def test_a_run_directory_deleted_mid_run_stops_the_run(tmp_path):
    import shutil

    from engine.distributed import Dist
    from engine.errors import OutputDirError
    from engine.rundir import RunDirectory, RunLock

    run = RunDirectory(tmp_path / "run", Dist())
    run.lock = RunLock(run.out).acquire()
    shutil.rmtree(run.out)
    with pytest.raises(OutputDirError, match="was deleted while the run trained"):
        run.save(lambda rng: {})
    assert not run.out.exists()  # not recreated with a lone checkpoint
    run.release()


@pytest.mark.skipif(os.geteuid() != 0 and not Path("/dev/full").exists(), reason="no /dev/full")
def test_a_full_disk_during_a_checkpoint_says_so(tmp_path, monkeypatch):
    """The write goes to a temporary file first; ENOSPC leaves the previous checkpoint."""
    import errno

    from engine import io as atomic_io
    from engine.checkpoint import save_checkpoint
    from engine.errors import CheckpointError

    path = tmp_path / "last.pt"
    save_checkpoint(path, {"epoch": 1})
    before = path.read_bytes()

    def full(path, write):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic_io, "atomic_write", full)
    with pytest.raises(CheckpointError, match="disk full while writing .*previous checkpoint"):
        save_checkpoint(path, {"epoch": 2})
    assert path.read_bytes() == before
