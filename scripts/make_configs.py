#!/usr/bin/env python
"""Write configs/<dataset>/<sym|asym>/<loss>.yaml from one table of the paper's settings.

    python scripts/make_configs.py          # rewrites the paper configs (idempotent)
    python scripts/make_configs.py --check  # exit 1 if a committed config differs from the table

The table below is the single place where per-dataset alpha/beta/q/gamma/epochs are written,
each with its source (spec ../shared/docs/paper.md §4, D-rows of §2). The YAML files are
generated so that 144 of them cannot drift apart; they are committed so they can be read,
diffed and run directly. The recipe shared by a dataset lives in configs/base/<dataset>.yaml.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
if __package__ in (None, ""):  # run as a file: the repository root holds the packages
    sys.path.insert(0, str(ROOT))

from engine.grid import (  # noqa: E402  (which losses have configs: shared with the sweep)
    DMI_STAGE_EPOCHS,
    FOLLOWUP_DATASETS,
    FOLLOWUP_LOSSES,
    LOSSES,
    NEWER_DATASETS,
    NEWER_LOSSES,
    newer_losses,
)

# The later losses' own settings (spec §15), for MNIST and CIFAR-10.
ALFS = {  # spec §15.1, [ALFs] lnl/config.py
    "mnist": {
        "agce": (4.0, 0.2),
        "aul": (3.0, 0.1),
        "ael": (3.5, None),
        "nce+agce": (0.0, 1.0, 4.0, 0.2),
        "nce+aul": (0.0, 1.0, 3.0, 0.1),
        "nce+ael": (0.0, 1.0, 3.5, None),
    },
    "cifar10": {
        "agce": (0.6, 0.6),
        "aul": (5.5, 3.0),
        "ael": (2.5, None),
        "nce+agce": (1.0, 4.0, 6.0, 1.5),
        "nce+aul": (1.0, 4.0, 6.3, 1.5),
        "nce+ael": (1.0, 4.0, 5.0, None),
    },
}
ANL = {"mnist": (1.0, 1.0, 1e-6), "cifar10": (5.0, 5.0, 5e-5)}  # spec §15.2: alpha, beta, delta

# Losses published after APL, with their authors' settings under APL's protocol
# (../shared/docs/newer-losses.md). Sources: [EPS] cswjl/eps-softmax config.py; [JAL]
# cswjl/joint-asymmetric-loss (a secondary summary, unconfirmed); [ER] Virusdoll/Active-Negative-
# Loss@0c50009 config/<dataset>_anl_ce_er.json; DMI: [SUB] (spec §3.6).
# Config stems that are a registered loss with an option (losses.loss_label).
NEWER_NAMES = {"ce+logitclip": "ce", "nce+rce+logitclip": "nce+rce", "anl-ce+er": "anl-ce"}
NO_MNIST = "; [EPS] has no MNIST setting: CIFAR-10's (an assumption)"
EPS_MAE = {  # kind -> (alpha per rate, beta on [EPS]'s MAE, m); [EPS] config.py
    ("cifar10", "sym"): ({}, 0.01, 5.0, 1e5),
    ("cifar10", "asym"): ({}, 0.02, 5.0, 1e3),
    ("cifar100", "sym"): (
        {0.0: 0.1, 0.2: 0.05, 0.4: 0.03, 0.6: 0.00125, 0.8: 0.0075},
        None,
        1.0,
        1e4,
    ),
    ("cifar100", "asym"): ({0.1: 0.015, 0.2: 0.007, 0.3: 0.005, 0.4: 0.004}, None, 1.0, 1e2),
}
# delta of CE+LogitClip per dataset and kind, and the rates where CIFAR-10 sym uses 1.5 ([EPS])
LOGIT_CLIP = {
    ("cifar10", "sym"): 1.0,
    ("cifar10", "asym"): 2.5,
    ("cifar100", "sym"): 0.5,
    ("cifar100", "asym"): 2.5,
}
ANL_ER = {
    "mnist": (1.0, 1.0, 1e-6, 2.0),
    "cifar10": (5.0, 5.0, 5e-5, 2.0),
    "cifar100": (10.0, 1.0, 5e-7, 0.01),
}  # alpha, beta, delta (L1), lambda

NOISE = {
    "sym": ("symmetric", 0.4, "sweeps use 0.0, 0.2, 0.4, 0.6, 0.8 (spec §5.6)"),
    "asym": ("asymmetric", 0.4, "sweeps use 0.1, 0.2, 0.3, 0.4 (spec §5.6)"),
}

CLI_DEFAULT = "[SUB] CLI default; no per-dataset value recorded"
GAMMA = ("gamma", 0.5, "every latest run script passes 0.5 (D19; [SUB] CLI default 2)")
NORM_REF = (
    "normalizer",
    "reference",
    "the official factor produced the published row (B1/B2); 'paper' = corrected",
)


def params(dataset: str, kind: str, loss: str) -> list[tuple]:
    """(key, value, comment) for the loss block, plus ("per_rate", {...}, comment),
    ("recipes", {...}, comment) and ("epochs", n, comment) entries where a setting needs them."""
    if loss in FOLLOWUP_LOSSES:
        return followup_params(dataset, loss)
    if loss in NEWER_LOSSES:
        return NEWER_PARAMS[loss](dataset, kind)
    out = common_params(dataset, loss)
    out += DATASET_PARAMS[dataset](kind, loss)
    if dataset == "mnist" and loss in RELEASE_LOSS_SETTINGS:
        out.append(release_entry(kind, loss))
    return out + cli_defaults(loss, {k for k, *_ in out})


def common_params(dataset: str, loss: str) -> list[tuple]:
    """The settings a loss has on every dataset: FL's gamma, the reference normalisers, NLNL's."""
    parts, out = loss.split("+"), []
    if "fl" in parts or "nfl" in parts:
        out.append(GAMMA)
    if loss in ("nmae", "nrce"):
        out.append(NORM_REF)
    if loss == "nlnl":
        ln_neg, epochs = {"mnist": (1, 720), "cifar10": (1, 1000), "cifar100": (110, 2000)}[dataset]
        out += [("ln_neg", ln_neg, "spec §3.5"), ("epochs", epochs, "NLNL runs longer (spec §3.5)")]
    return out


def cli_defaults(loss: str, keys: set) -> list[tuple]:
    """Remaining pairs run with the [SUB] CLI defaults alpha = beta = 1 (q 0.7)."""
    parts, out = loss.split("+"), []
    if "+" in loss:
        out += [(k, 1.0, CLI_DEFAULT) for k in ("alpha", "beta") if k not in keys]
    if ("gce" in parts or "ngce" in parts) and "q" not in keys:
        out.append(("q", 0.7, "[SUB] --q default, used by the scripts (D17)"))
    return out


def mnist_params(kind: str, loss: str) -> list[tuple]:
    out: list[tuple] = []
    if loss in ("nce+rce", "nfl+rce", "nfl+mae") or (loss == "nce+mae" and kind == "sym"):
        out += [
            ("alpha", 1.0, "D14"),
            (
                "beta",
                10.0,
                "D14 (inferred: [HEAD], [ANL]); alternatives beta 1 "
                "([INIT], gives [NB-0203]) or beta 100 ([ALFs])",
            ),
        ]
    elif loss == "nce+mae":
        out += [
            ("alpha", 1.0, "D14: the asym row was not re-run, keeps alpha = beta = 1"),
            ("beta", 1.0, "D14; alternative beta 10 ([HEAD], [ANL])"),
        ]
    elif loss == "sce":
        out += [("alpha", 0.01, "D18, [INIT] scripts"), ("beta", 1.0, "D18")]
    return out


def cifar10_params(kind: str, loss: str) -> list[tuple]:
    out: list[tuple] = []
    if loss == "sce" and kind == "sym":
        out += [("alpha", 0.1, "D18"), ("beta", 1.0, "D18")]
    elif loss == "sce":
        out += [
            ("alpha", 1.0, "D18: latest [INIT] sce.slurm (eta 0.1-0.3) passes no alpha"),
            ("beta", 1.0, "D18"),
            (
                "per_rate",
                {0.4: {"loss.alpha": 0.1}},
                "D18: eta 0.4 ran from an archived script with alpha 0.1; alternatives "
                "alpha 0.1 everywhere ([HEAD], [ANL]) or beta 5 ([NB-0210] note)",
            ),
        ]
    return out


def cifar100_params(kind: str, loss: str) -> list[tuple]:
    out: list[tuple] = []
    asym_alpha = 5.0 if kind == "asym" else 10.0
    src = "D15: asym alpha 5 ([INIT] scripts; [HEAD] uses 10)" if kind == "asym" else "spec §4.4"
    table = {
        "nce+rce": [("alpha", asym_alpha, src), ("beta", 0.1, "spec §4.4")],
        "nce+mae": [
            ("alpha", asym_alpha, src),
            ("beta", 1.0, "spec §4.4 (APL); alternative 0.1 ([ANL])"),
        ],
        "nfl+rce": [("alpha", 10.0, "spec §4.4"), ("beta", 0.1, "spec §4.4; [ALFs] uses 1")],
        "nfl+mae": [("alpha", 10.0, "spec §4.4"), ("beta", 1.0, "spec §4.4")],
        "ngce+mae": [
            ("alpha", asym_alpha, src),
            ("beta", 1.0, "spec §4.4"),
            ("q", 0.2, "D16 ([INIT] scripts; [HEAD] 0.7)"),
        ],
        "ngce+rce": [
            ("alpha", asym_alpha, src),
            ("beta", 0.1, "spec §4.4"),
            ("q", 0.2, "D16 ([INIT] scripts; [HEAD] 0.7)"),
        ],
        "ngce": [("q", 0.2, "D16 ([INIT] scripts; 0.3 in the [NB-0210] note; [HEAD] 0.7)")],
        "gce+rce": [("beta", 0.1, "spec §4.4 (alpha 1 is passed and ignored, B13)")],
        "gce+mae": [("beta", 1.0, "spec §4.4")],
        "sce": [
            (
                "alpha",
                2.0 if kind == "asym" else 6.0,
                "D18" + (" ([HEAD] uses 6)" if kind == "asym" else ""),
            ),
            ("beta", 0.1, "D18"),
        ],
    }
    out += table.get(loss, [])
    return out


DATASET_PARAMS = {"mnist": mnist_params, "cifar10": cifar10_params, "cifar100": cifar100_params}


# The authors' release configs ([HEAD] configs/mnist/<kind>/<loss>.yaml) where their loss settings
# differ from the paper configs (spec §4.2): recipe `release-full` of configs/base/mnist.yaml
# applies them, `release` does not (its optimiser only). Values per kind, or one for both.
RELEASE_LOSS_SETTINGS = {
    "nce": {"loss.scale": 10.0},
    "ngce": {"sym": {"loss.q": 0.1, "loss.scale": 10.0}, "asym": {"loss.q": 0.1}},
    "nce+mae": {"asym": {"loss.beta": 10.0}},
    "ngce+rce": {"loss.beta": 10.0},
    "ngce+mae": {"loss.beta": 10.0},
}


def release_entry(kind: str, loss: str) -> tuple:
    values = RELEASE_LOSS_SETTINGS[loss]
    values = values.get(kind, {}) if "sym" in values or "asym" in values else values
    return (
        "recipes",
        {"release-full": values},
        "[HEAD] configs/mnist: recipe release-full (spec §4.2)",
    )


def followup_params(dataset: str, loss: str) -> list[tuple]:
    floor = (
        [("schedule.eta_min", 0.0, "[ALFs]/[ANL] anneal to 0 (APL floors MNIST at 0.001)")]
        if dataset == "mnist"
        else []
    )
    if loss in ("anl-ce", "anl-fl"):
        alpha, beta, delta = ANL[dataset]
        out = [
            ("alpha", alpha, "spec §15.2 ([ANL] settings)"),
            ("beta", beta, "spec §15.2"),
            ("l1", delta, "delta: L1 over all parameters, spec §15.2"),
            ("optim.weight_decay", 0.0, "[ANL] replaces weight decay by the L1 term"),
        ]
        if loss == "anl-fl":
            out.insert(2, ("gamma", 0.5, "spec §15.2"))
        return out + floor
    values = ALFS[dataset][loss]
    src = "spec §15.1 ([ALFs] lnl/config.py)"
    if "+" in loss:
        alpha, beta, a, q = values
        out = [
            (
                "alpha",
                alpha,
                src + ("; alpha 0 = the asymmetric loss alone on MNIST" if alpha == 0 else ""),
            ),
            ("beta", beta, src),
            ("a", a, src),
        ]
    else:
        a, q = values
        out = [("a", a, src)]
    if q is not None:
        out.append(("q", q, src))
    return out + floor


def eps_mae_params(dataset: str, kind: str, gamma: bool = False) -> list[tuple]:
    key = ("cifar10" if dataset == "mnist" else dataset, kind)
    per_rate, alpha, beta, m = EPS_MAE[key]
    note = "[EPS] config.py" + (NO_MNIST if dataset == "mnist" else "")
    out = [
        (
            "alpha",
            alpha if alpha is not None else per_rate[0.4],
            note + ("" if alpha is not None else "; tuned per rate, see per_rate"),
        ),
        (
            "beta",
            2 * beta,
            f"[EPS] beta {beta:g} on its MAE 2(1 - p_y) (MAELoss scale 2) = "
            f"{2 * beta:g} on this project's MAE (1 - p_y)",
        ),
        ("m", m, note),
    ]
    if gamma:
        out.append(("gamma", 0.1, "[EPS] EFocalLoss default; EFLandMAE passes none"))
    if per_rate:
        out.append(
            (
                "per_rate",
                {r: {"loss.alpha": a} for r, a in per_rate.items()},
                "[EPS] config.py tunes alpha per noise rate",
            )
        )
    return out


def logit_clip_entries(dataset: str, kind: str, note: str = "") -> list[tuple]:
    delta = LOGIT_CLIP[("cifar10" if dataset == "mnist" else dataset, kind)]
    src = (
        "[EPS] CEandLC"
        + note
        + (NO_MNIST if dataset == "mnist" else "")
        + "; its code compares ||z|| with 1/delta, this project with delta (same at delta 1)"
    )
    out = [("logit_clip", delta, src)]
    if (dataset, kind) in (("cifar10", "sym"), ("mnist", "sym")):
        out.append(
            (
                "per_rate",
                {0.6: {"loss.logit_clip": 1.5}, 0.8: {"loss.logit_clip": 1.5}},
                "[EPS] CEandLC: delta 1.5 at noise rate >= 0.5 (symmetric)",
            )
        )
    return out


def jal_params(dataset: str, kind: str) -> list[tuple]:
    src = "[JAL] per newer-losses.md (a secondary summary, unconfirmed)"
    return [
        ("alpha", 1.0, src),
        ("beta", 1.0, src),
        (
            "a",
            10.0,
            "[JAL] uses a in {10, 20, 30, 40}; which one per setting is unconfirmed: "
            "10, the smallest",
        ),
    ]


def ldr_params(dataset: str, kind: str) -> list[tuple]:
    return [
        ("margin", 0.1, "[EPS] LDRLoss_V1 threshold"),
        ("lam", 1.0 if dataset == "cifar100" else 10.0, "[EPS] config.py Lambda"),
    ]


def nce_rce_clip_params(dataset: str, kind: str) -> list[tuple]:
    return params(dataset, kind, "nce+rce") + logit_clip_entries(
        dataset, kind, "'s delta for CE (none published for NCE+RCE)"
    )


def anl_er_params(dataset: str, kind: str) -> list[tuple]:
    alpha, beta, delta, lam = ANL_ER[dataset]
    src = lam_src = f"[ER] {dataset}"
    if dataset == "mnist":  # [ER] has no MNIST config
        src, lam_src = "ANL's MNIST setting (spec §15.2)", "[ER] cifar10's (no MNIST config)"
    out = [
        ("alpha", alpha, src),
        ("beta", beta, src),
        ("entropy_reg", lam, "lamb: " + lam_src),
        ("l1", delta, "delta: " + src + "; L1 over all parameters"),
        ("optim.weight_decay", 0.0, "[ER] replaces weight decay by the L1 term"),
    ]
    if dataset == "mnist":
        out.append(("schedule.eta_min", 0.0, "[ANL] anneals to 0 (APL floors MNIST at 0.001)"))
    return out


def dmi_params(dataset: str, kind: str) -> list[tuple]:
    stage = DMI_STAGE_EPOCHS[dataset]
    return [
        ("warmup_epochs", stage, "spec §3.6: [SUB] first runs the full CE schedule"),
        ("warmup_loss", "ce", "spec §3.6"),
        ("optim.lr_after_warmup", 1e-6, "spec §3.6: then DMI, fresh SGD, lr 1e-6, no schedule"),
        ("epochs", 2 * stage, f"spec §3.6: {stage} CE + {stage} DMI epochs"),
    ]


NEWER_PARAMS = {
    "ce-eps+mae": eps_mae_params,
    "fl-eps+mae": lambda dataset, kind: eps_mae_params(dataset, kind, gamma=True),
    "jal-ce": jal_params,
    "ldr-kl": ldr_params,
    "ce+logitclip": lambda dataset, kind: logit_clip_entries(dataset, kind),
    "nce+rce+logitclip": nce_rce_clip_params,
    "anl-ce+er": anl_er_params,
    "dmi": dmi_params,
}


def yaml_value(v) -> str:
    if isinstance(v, float):
        return repr(v)
    return str(v)


def render(dataset: str, kind: str, loss: str) -> str:
    noise_kind, rate, rate_note = NOISE[kind]
    entries = params(dataset, kind, loss)
    what = (
        "the follow-up paper's own setting (spec §15)"
        if loss in FOLLOWUP_LOSSES
        else "the paper's two-stage DMI baseline (spec §3.6)"
        if loss == "dmi"
        else "its paper's setting under APL's protocol (../shared/docs/newer-losses.md)"
        if loss in NEWER_LOSSES
        else "the setting behind the published numbers (spec §4)"
    )
    lines = [
        f"# {loss.upper()} on {dataset}, {noise_kind} noise: {what}.",
        "# Generated by scripts/make_configs.py from its table; edit the table, not this file.",
        f"inherit: ../../base/{dataset}.yaml",
        "noise:",
        f"  kind: {noise_kind}".ljust(29) + "# spec §5" + (".2" if kind == "sym" else ""),
        f"  rate: {rate}".ljust(29) + f"# {rate_note}",
        "loss:",
        f"  name: {NEWER_NAMES.get(loss, loss)}",
    ]
    for key, value, note in entries:
        if key in ("per_rate", "epochs", "recipes") or "." in key:
            continue
        lines.append(f"  {key}: {yaml_value(value)}".ljust(29) + f"# {note}")
    blocks: dict = {}
    for key, value, note in entries:
        if "." in key:
            block, leaf = key.split(".")
            blocks.setdefault(block, []).append(
                f"  {leaf}: {yaml_value(value)}".ljust(29) + f"# {note}"
            )
    for block, block_lines in blocks.items():
        lines += [f"{block}:"] + block_lines
    for key, value, note in entries:
        if key == "epochs":
            lines += ["train:", f"  epochs: {value}".ljust(29) + f"# {note}"]
        if key in ("per_rate", "recipes") and value and any(value.values()):
            lines.append(f"{key}:".ljust(29) + f"# {note}")
            for r, sets in value.items():
                lines.append(f"  {r}:")
                lines += [f"    {k}: {yaml_value(v)}" for k, v in sets.items()]
    return "\n".join(lines) + "\n"


def all_configs() -> dict[Path, str]:
    configs = {
        CONFIGS / d / k / f"{loss}.yaml": render(d, k, loss)
        for d in ("mnist", "cifar10", "cifar100")
        for k in NOISE
        for loss in LOSSES
    }
    configs.update(
        {
            CONFIGS / d / k / f"{loss}.yaml": render(d, k, loss)
            for d in FOLLOWUP_DATASETS
            for k in NOISE
            for loss in FOLLOWUP_LOSSES
        }
    )
    configs.update(
        {
            CONFIGS / d / k / f"{loss}.yaml": render(d, k, loss)
            for d in NEWER_DATASETS
            for k in NOISE
            for loss in newer_losses(d)
        }
    )
    return configs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = p.parse_args(argv)
    stale = []
    for path, text in all_configs().items():
        if path.is_file() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)}")
        return 1 if stale else 0
    print(f"wrote {len(stale)} config(s); {len(all_configs()) - len(stale)} already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
