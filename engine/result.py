"""result.json: what a finished run reports, under each selection protocol, built from the
run's rows and records alone (a pure function: tested without training)."""
from __future__ import annotations

PROTOCOL = ("last epoch (the paper's); best_on_test is test-selected and optimistic; "
            "best_on_noisy_val is selected on a held-out split of the noisy training set")


def build_result(history: list, eval_names, n_val: int | None, estimate, resumes: list,
                 noise_summary: dict, device: str, processes: int, wall_seconds: float,
                 cfg: dict) -> dict:
    """The last-epoch numbers of every evaluation set (the paper's protocol), the epoch best on
    the test set (optimistic), the epoch best on the noisy validation split when one was held
    out (`n_val` samples), and what really ran."""
    best = max(history, key=lambda r: r["test_top1"])
    last = history[-1]
    best_val = max(history, key=lambda r: r["val_noisy_top1"]) if n_val else None
    return {
        "status": "finished",
        "protocol": PROTOCOL,
        "last": {"epoch": last["epoch"], **{f"{name}_{m}": last[f"{name}_{m}"]
                                            for name in eval_names for m in ("top1", "top5")}},
        "best_on_test": {"epoch": best["epoch"], "test_top1": best["test_top1"],
                         "selected_on": "test set"},
        "best_on_noisy_val": None if best_val is None else {
            "epoch": best_val["epoch"], "test_top1": best_val["test_top1"],
            "val_noisy_top1": best_val["val_noisy_top1"],
            "selected_on": f"noisy validation split ({n_val} samples)"},
        "noise_estimate": estimate,
        "resumes": resumes,
        "forced_resume": any(r["forced"] for r in resumes),
        "skipped_steps": sum(r["skipped_steps"] for r in history),
        "noise": {k: v for k, v in noise_summary.items() if k != "transition"},
        "device": device,
        "processes": processes,
        "wall_seconds": wall_seconds,
        "config": cfg,
    }
