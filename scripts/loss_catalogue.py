#!/usr/bin/env python
"""Write docs/LOSSES.md, the catalogue of every registered loss, from the registry itself.

    python scripts/loss_catalogue.py          # rewrite docs/LOSSES.md
    python scripts/loss_catalogue.py --check  # exit 1 if docs/LOSSES.md is out of date

Every fact comes from where the code keeps it, so the catalogue cannot drift: names from
losses.LOSSES and ALIASES; formula, class-sum, source and allowed ranges from each class's
FORMULA, CLASS_SUM, SOURCE and RANGES (PAIR_SOURCES for the named pairs); defaults from
losses.loss_params; the documented class-sum's value from class_sum(), beside the verdict of
losses.check_symmetry measured on the loss; per-dataset settings from the configs under
configs/ (engine.experiment.load_config, the `paper` recipe); and which losses are compared
with the authors' code from the parametrisations of tests/test_official.py (read, not run).
tests/test_loss_catalogue.py runs --check. Torch, the registry and the configs are imported in
the functions that need them, so --help stays fast.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "docs" / "LOSSES.md"
K = 10  # the class count of the numbers shown
CHECK = {"rows": 32, "adversarial_rows": 4, "steps": 20}  # as tests/test_symmetry.py
OPTION_RANGES = {"logit_clip": "None, or (0, inf)", "entropy_reg": "[0, inf)", "l1": "[0, inf)"}

# The tests of tests/test_official.py that compare a loss with the authors' code, and what each
# compares; the loss names are read from their parametrisations (a renamed test is an error).
AUTHORS_TESTS = {
    "test_loss_value_and_gradient_equal_the_authors": "value and gradient equal their loss.py with each paper config's parameters "
    "(MNIST, CIFAR-10, CIFAR-100)",
    "test_normalised_mae_rce_with_reference_normaliser_equal_the_authors": 'with normalizer="reference", value and gradient equal theirs (K = 10, 100)',
    "test_nlnl_equals_the_authors_negative_term_with_the_same_complementary_labels": "the negative term equals theirs with the same complementary labels",
}


def cell(text) -> str:
    return str(text).replace("|", "\\|")


# ---------------------------------------------------------------- what the registry says
def parts(name: str) -> list:
    from losses import ALIASES

    return ALIASES.get(name, name).split("+")


def range_of(name: str, param: str) -> str:
    from losses import BASE_LOSSES, Combination

    owners = [Combination] + [BASE_LOSSES[p] for p in parts(name)]
    if len(parts(name)) == 1:
        owners = owners[1:]
    return next(str(cls.RANGES[param]) for cls in owners if param in cls.RANGES)


def parameter_rows(name: str) -> list:
    from losses import OPTIONS, loss_params

    params = {k: v for k, v in loss_params(name).items() if k not in OPTIONS}
    return [f"| `{k}` | {cell(repr(v))} | {cell(range_of(name, k))} |" for k, v in params.items()]


def formula(name: str) -> str:
    from losses import BASE_LOSSES

    if len(parts(name)) == 1:
        return BASE_LOSSES[parts(name)[0]].FORMULA
    first, second = parts(name)
    return f"alpha {first} + beta {second}"


def class_sum_text(name: str) -> str:
    from losses import BASE_LOSSES

    if len(parts(name)) == 1:
        return BASE_LOSSES[parts(name)[0]].CLASS_SUM
    first, second = (BASE_LOSSES[p] for p in parts(name))
    of_parts = f"{first.NAME}: {first.CLASS_SUM}; {second.NAME}: {second.CLASS_SUM}"
    if first.CLASS_SUM.startswith("not") or second.CLASS_SUM.startswith("not"):
        return f"not constant (the parts' at s = 1: {of_parts})"
    return f"alpha C_{first.NAME} + beta C_{second.NAME}, the parts' at s = 1: {of_parts}"


def source(name: str) -> str:
    from losses import BASE_LOSSES, PAIR_SOURCES, Combination

    if name in PAIR_SOURCES:
        return PAIR_SOURCES[name]
    if len(parts(name)) == 1:
        return BASE_LOSSES[parts(name)[0]].SOURCE
    return Combination.SOURCE


def documented_and_measured(name: str) -> tuple[str, str]:
    """class_sum() at K = 10 and the defaults, and check_symmetry's verdict on the loss."""
    from losses import ALIASES, BASE_LOSSES, Combination, build_loss, check_symmetry

    if BASE_LOSSES.get(ALIASES.get(name, name), Combination).BATCH_ONLY:
        return "not defined", "n/a: one value per batch"
    loss = build_loss(name, K, reduction="none")
    documented = loss.class_sum()
    if documented is not None:
        documented = f"{documented:.6g}"
    elif loss.CLASS_SUM.startswith("not defined"):
        documented = "not defined"
    report = check_symmetry(loss, K, **CHECK)
    verdict = {True: "symmetric", False: "not symmetric", None: "undetermined (random)"}
    return documented or "not constant", verdict[report.symmetric]


# ---------------------------------------------------------------- configs and the authors' tests
def config_label(path: Path) -> str:
    return str(path.relative_to(ROOT / "configs").with_suffix(""))


def settings_text(path: Path, cfg: dict) -> str:
    from engine.config import loss_kwargs

    items = [
        f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in loss_kwargs(cfg).items()
    ]
    per_rate = (yaml.safe_load(path.read_text()) or {}).get("per_rate") or {}
    for rate, sets in per_rate.items():
        items.append(
            f"at rate {rate}: "
            + ", ".join(f"{k.removeprefix('loss.')} {v:g}" for k, v in sets.items())
        )
    return "; ".join(items) or "the defaults"


def config_settings() -> dict:
    """loss name (as the config writes it) -> [(config label, settings)]."""
    from engine.experiment import load_config

    found: dict = {}
    for path in sorted((ROOT / "configs").rglob("*.yaml")):
        if "base" in path.relative_to(ROOT / "configs").parts:
            continue
        cfg = load_config(path)
        found.setdefault(cfg["loss.name"], []).append(
            (config_label(path), settings_text(path, cfg))
        )
    return found


def literal_list(node, module: ast.Module):
    if isinstance(node, ast.Name):
        node = next(
            a.value
            for a in module.body
            if isinstance(a, ast.Assign)
            and any(getattr(t, "id", None) == node.id for t in a.targets)
        )
    return ast.literal_eval(node)


def names_in(function: ast.FunctionDef, module: ast.Module) -> set:
    """Loss names of the test's "loss" parametrisation and of its build_loss("...") calls."""
    names = set()
    for deco in function.decorator_list:
        if (
            isinstance(deco, ast.Call)
            and deco.args
            and isinstance(deco.args[0], ast.Constant)
            and deco.args[0].value == "loss"
        ):
            names |= set(literal_list(deco.args[1], module))
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "build_loss"
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(node.args[0].value)
    return names


def authors_checks() -> dict:
    """loss name -> [what tests/test_official.py compares with the authors' code]."""
    from losses import ALIASES

    module = ast.parse((ROOT / "tests" / "test_official.py").read_text())
    functions = {f.name: f for f in module.body if isinstance(f, ast.FunctionDef)}
    missing = sorted(set(AUTHORS_TESTS) - set(functions))
    if missing:
        raise SystemExit(f"tests/test_official.py has no {missing}: update AUTHORS_TESTS")
    checks: dict = {}
    for test, what in AUTHORS_TESTS.items():
        for name in sorted(names_in(functions[test], module)):
            checks.setdefault(name, []).append(what)
    for alias, target in ALIASES.items():  # "focal" is "fl": the same code is checked
        if target in checks and alias not in checks:
            checks[alias] = checks[target]
    return checks


# ---------------------------------------------------------------- the page
def header() -> str:
    from losses import OPTIONS, REDUCTIONS

    return f"""# Loss catalogue

Generated by `python scripts/loss_catalogue.py` from the registry (`losses/`: each class's
`FORMULA`, `CLASS_SUM`, `SOURCE` and `RANGES`, the defaults of its signature, `PAIR_SOURCES`),
from `configs/` and from `tests/test_official.py`; do not edit it by hand. A test
(`tests/test_loss_catalogue.py`) fails when it is out of date.

Notation: p = softmax(z), p~ = clamp(p, 1e-7, 1), y = the given label, K = classes,
s = `scale`. The **class-sum** is the sum of the per-sample loss over all K labels y; a loss is
symmetric in the paper's sense when it is constant in the logits (Theorem 1: then it is
noise-tolerant). "documented" is the loss's `class_sum()` for K = {K} at the defaults;
"measured" is the verdict of `check_symmetry` (losses/symmetry.py) on the loss, over random,
extreme and adversarial logits. Tags such as [SUB] (the authors' submission-version code), D1
(a default) and B1 (a bug of the official code) are explained in docs/NOTES.md.

Every loss also takes `reduction` ({", ".join(f'"{r}"' for r in REDUCTIONS)}), `ignore_index`
(None or an integer, as in torch.nn.CrossEntropyLoss) and the options
{", ".join(f"`{k}` (default {v!r}; {OPTION_RANGES[k]})" for k, v in OPTIONS.items())}.
"""


def summary(rows: dict, checks: dict) -> list:
    lines = [
        "| name | per-sample value | class-sum, documented | measured | authors' code |",
        "|---|---|---|---|---|",
    ]
    for name, (documented, measured) in rows.items():
        lines.append(
            f"| [`{name}`](#{anchor(name)}) | {cell(formula(name))} | {documented} | "
            f"{measured} | {'yes' if name in checks else 'no'} |"
        )
    return lines


def anchor(name: str) -> str:
    return "".join(c for c in name if c.isalnum() or c == "-")


def section(name: str, numbers: tuple, settings: list, checks: list) -> list:
    from losses import ALIASES

    alias = f" (alias of `{ALIASES[name]}`)" if name in ALIASES else ""
    lines = [
        f"## {name}",
        "",
        f"`{name}`{alias}: {cell(formula(name))}",
        "",
        "| parameter | default | allowed |",
        "|---|---|---|",
        *parameter_rows(name),
        "",
        f"* class-sum: {class_sum_text(name)}; at K = {K} and the defaults: {numbers[0]}; "
        f"measured: {numbers[1]}",
        f"* source: {source(name)}",
        "* checked against the authors' code: " + ("; ".join(checks) if checks else "no"),
    ]
    if settings:
        lines += ["", "| config (configs/…) | loss settings |", "|---|---|"]
        lines += [f"| `{label}` | {cell(text)} |" for label, text in settings]
    return lines + [""]


def render() -> str:
    from losses import LOSSES

    settings, checks = config_settings(), authors_checks()
    rows = {name: documented_and_measured(name) for name in sorted(LOSSES)}
    lines = [header(), *summary(rows, checks), ""]
    for name in rows:
        lines += section(name, rows[name], settings.get(name, []), checks.get(name, []))
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    text = render()
    current = OUT.read_text() if OUT.is_file() else None
    if args.check:
        if current != text:
            print(f"out of date: {OUT.relative_to(ROOT)} (run python scripts/loss_catalogue.py)")
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
