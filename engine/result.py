"""result.json of a run of this project: engine/record.py's one schema, filled from the run's
rows and records alone (a pure function: tested without training)."""

from __future__ import annotations

from .record import THIS_CODE, RunCoordinates, result_document

PROTOCOL = (
    "last epoch (the paper's); best_on_test is test-selected and optimistic; "
    "best_on_noisy_val is selected on a held-out split of the noisy training set"
)


def build_result(
    history: list,
    eval_names,
    n_val: int | None,
    estimate,
    resumes: list,
    noise_summary: dict,
    device: str,
    processes: int,
    wall_seconds: float,
    cfg: dict,
    where: RunCoordinates,
) -> dict:
    """The last-epoch numbers of every evaluation set (the paper's protocol), the epoch best on
    the test set (optimistic), the epoch best on the noisy validation split when one was held
    out (`n_val` samples), and what really ran."""
    return result_document(
        code=THIS_CODE,
        status="finished",
        where=where,
        history=history,
        schedule_epochs=cfg["train.epochs"],
        cfg=cfg,
        noise={k: v for k, v in noise_summary.items() if k != "transition"},
        wall_seconds=wall_seconds,
        provenance={"device": device, "processes": processes},
        eval_names=eval_names,
        resumes=resumes,
        n_val=n_val,
        extra={
            "protocol": PROTOCOL,
            "noise_estimate": estimate,
            "skipped_steps": sum(r["skipped_steps"] for r in history),
        },
    )
