"""The allowed values of loss parameters, declared once per loss class (`RANGES`).

The same declaration checks a constructor's arguments and prints the "allowed" column of the
catalogue (docs/LOSSES.md, scripts/loss_catalogue.py), so an error message and the
documentation cannot disagree. Every problem is one ValueError naming the parameter, what is
allowed and what was given (ValueError, not TypeError, for a wrong type too: engine.experiment
turns ValueErrors from build_loss into config errors).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Interval:
    """A finite number (or integer) between optional bounds, each inclusive unless open."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    note: str = ""  # why the bounds are what they are, added to the error message

    def __str__(self) -> str:
        """Interval notation for the catalogue: (0, 1], [0, inf), (-inf, 0), integer >= 1."""
        if self.integer:
            return f"integer {self.condition()}".strip()
        if self.low is None and self.high is None:
            return "any finite number"
        left = "(-inf" if self.low is None else ("(" if self.low_open else "[") + _number(self.low)
        right = (
            "inf)" if self.high is None else _number(self.high) + (")" if self.high_open else "]")
        )
        return f"{left}, {right}"

    def condition(self) -> str:
        """The bounds as a phrase for error messages: '> 0 and <= 1', '>= 0', '< 0' or ''."""
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {_number(self.low)}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {_number(self.high)}")
        return " and ".join(parts)

    def contains(self, value: float) -> bool:
        above = self.low is None or value > self.low or (value == self.low and not self.low_open)
        below = (
            self.high is None or value < self.high or (value == self.high and not self.high_open)
        )
        return above and below

    def check(self, name: str, value):
        """`value` as a float (an int for integer intervals), or a ValueError that says why."""
        is_type = (
            isinstance(value, numbers.Integral) if self.integer else isinstance(value, numbers.Real)
        )
        if isinstance(value, bool) or not is_type:
            kind = "an integer" if self.integer else "a number"
            raise ValueError(
                f"loss parameter {name!r} must be {kind}, got {value!r} (allowed: {self})"
            )
        if not self.integer and not math.isfinite(value):
            bounds = f" and {self.condition()}" if self.condition() else ""
            raise ValueError(f"loss parameter {name!r} must be finite{bounds}, got {value}")
        if not self.contains(value):
            why = f" ({self.note})" if self.note else ""
            raise ValueError(
                f"loss parameter {name!r} must be {self.condition()}{why}, got {value}"
            )
        return int(value) if self.integer else float(value)


@dataclass(frozen=True)
class Choice:
    """One of a few strings (NMAE's and NRCE's normaliser)."""

    values: tuple

    def __str__(self) -> str:
        return " or ".join(f'"{v}"' for v in self.values)

    def check(self, name: str, value):
        if value not in self.values:
            raise ValueError(f"loss parameter {name!r} must be one of {self.values}, got {value!r}")
        return value


@dataclass(frozen=True)
class Flag:
    """True or False (a truthy string such as "no" must not switch a behaviour on)."""

    def __str__(self) -> str:
        return "True or False"

    def check(self, name: str, value):
        if not isinstance(value, bool):
            raise ValueError(f"loss parameter {name!r} must be True or False, got {value!r}")
        return value


@dataclass(frozen=True)
class ClassCounts:
    """None, or one positive count per class (NLNL's class weights)."""

    def __str__(self) -> str:
        return "None, or K integers >= 1"

    def check(self, name: str, value, num_classes: int):
        if value is None:
            return None
        try:
            counts = [int(c) for c in value]
            valid = len(counts) == num_classes and min(counts) >= 1
            valid = valid and all(c == v for c, v in zip(counts, value, strict=False))
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise ValueError(
                f"loss parameter {name!r} must be None or list a positive count "
                f"for each of the {num_classes} classes, got {value!r}"
            )
        return counts


# The ranges most losses share.
NON_NEGATIVE = Interval(low=0.0)
POSITIVE = Interval(low=0.0, low_open=True)
PROBABILITY_FLOOR = Interval(low=0.0, high=1.0, low_open=True)  # a clamp inside a log: > 0
UNIT = Interval(low=0.0, high=1.0)
LOG_CLAMP = Interval(
    high=0.0,
    high_open=True,
    note="the log of the clamped zero label: ln 1e-4 = -9.2103 in the "
    "authors' code, -4 in the paper",
)
