"""Command-line interface: ``kernelgda COMMAND ...``.

Argument parsing and file I/O only; every computation lives in the library.
Each subcommand is a module of this package with a ``register(subparsers)``
function that adds its parser and sets ``func(args) -> int``. Bad input
(a ``ValueError`` from the library or the parser) prints one line to stderr
and exits with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..phase.run import ClusterError

__all__ = ["main", "build_parser", "UsageError"]

#: Subcommand modules, in help order.
COMMANDS = ("reproduce", "rates", "analyze", "phase", "smm")


class UsageError(ValueError):
    """Bad command-line input (exit code 2)."""


class _Once(argparse.Action):
    """Store an option's value, refusing a second one: ``--sigma 0.3 --sigma 0.5`` is a slip
    (every command, as ``phase`` refuses a repeated ``--axis`` name)."""

    def __call__(self, parser, namespace, values, option_string=None):
        seen = namespace.__dict__.setdefault("_given", set())
        if self.dest in seen:
            raise UsageError(f"argument {'/'.join(self.option_strings)}: given twice; give it once")
        seen.add(self.dest)
        setattr(namespace, self.dest, values)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        raise UsageError(message)

    def add_argument(self, *args, **kwargs):
        if args and args[0].startswith("-") and kwargs.get("action", "store") == "store":
            kwargs["action"] = _Once  # options with a value: each at most once
        return super().add_argument(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = _Parser(prog="kernelgda", description="Gradient descent-ascent for kernel GANs: "
                     "exact dynamics, fixed points, linearization, phase diagrams.")
    parser.add_argument("--version", action="version", version=f"kernelgda {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f".{name}", __name__).register(sub)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``kernelgda`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise UsageError("a COMMAND is required (one of list, figure, "
                             f"{', '.join(COMMANDS)}; see kernelgda --help)")
        return int(args.func(args) or 0)
    except (ValueError, OSError) as exc:
        print(f"kernelgda: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kernelgda: interrupted", file=sys.stderr)
        return 2
    except ClusterError as exc:  # not bad input: the cluster failed; the sweep can resume
        print(f"kernelgda: cluster error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
