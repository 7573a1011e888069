"""The paper's grids: which loss configs each table has, the noise rates and the seeds (spec
§5.6, §8.3, §11), and the later losses configured per dataset. Plain names: the sweep plans
runs from them and scripts/make_configs.py writes a config for each."""

from __future__ import annotations

DEFAULT_RATES = {"sym": [0.0, 0.2, 0.4, 0.6, 0.8], "asym": [0.1, 0.2, 0.3, 0.4]}  # spec §5.6
DEFAULT_SEEDS = [0, 123, 515]  # D21: runs 1/2/3 of the [INIT] scripts
HUMAN_DATASETS = {"cifar10n": ["aggre", "random1", "random2", "random3", "worse"]}

# Every loss with a row in the paper's result tables (spec §11), but DMI: it has its own two-stage
# settings and sits with the later losses (NEWER_LOSSES below).
LOSSES = [
    "ce",
    "fl",
    "gce",
    "sce",
    "nlnl",
    "mae",
    "rce",
    "nce",
    "nfl",
    "ngce",
    "nmae",
    "nrce",
    "gce+mae",
    "gce+nce",
    "gce+rce",
    "mae+rce",
    "nfl+nce",
    "ngce+nce",
    "ngce+mae",
    "ngce+rce",
    "nfl+mae",
    "nfl+rce",
    "nce+mae",
    "nce+rce",
]

# Later losses of this line of work (spec §15), configured for MNIST and CIFAR-10.
FOLLOWUP_LOSSES = ["agce", "aul", "ael", "nce+agce", "nce+aul", "nce+ael", "anl-ce", "anl-fl"]
FOLLOWUP_DATASETS = ("mnist", "cifar10")

# Losses published after APL, under its protocol (../shared/docs/newer-losses.md).
NEWER_LOSSES = [
    "ce-eps+mae",
    "fl-eps+mae",
    "jal-ce",
    "ldr-kl",
    "ce+logitclip",
    "nce+rce+logitclip",
    "anl-ce+er",
    "dmi",
]
NEWER_DATASETS = ("mnist", "cifar10", "cifar100")
DMI_STAGE_EPOCHS = {"mnist": 50, "cifar10": 120}  # each stage: the dataset's full schedule


def newer_losses(dataset: str) -> list[str]:
    """The newer losses with a config for `dataset`: DMI's determinant over a batch of 128 is
    ~0 with 100 classes (most rows of U^T P empty), so it has none for CIFAR-100."""
    if dataset not in NEWER_DATASETS:
        return []
    return [
        name for name in NEWER_LOSSES if not (name == "dmi" and dataset not in DMI_STAGE_EPOCHS)
    ]
