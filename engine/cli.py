"""What the command-line scripts share: one help formatter, so every flag with a value by
default shows it beside its help, and the module docstring keeps its line breaks."""

from __future__ import annotations

import argparse


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Appends "(default: X)" to a flag's help, except where there is no value to show (None,
    False: the help says what leaving the flag out does)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "%(default)" in text:
            return text
        return f"{text} (default: %(default)s)"


def add_set_option(parser: argparse.ArgumentParser, help: str) -> None:
    """`--set KEY=VALUE ...`, repeatable: config overrides, parsed by engine.config."""
    parser.add_argument(
        "--set", nargs="*", default=[], action="extend", metavar="KEY=VALUE", help=help
    )
