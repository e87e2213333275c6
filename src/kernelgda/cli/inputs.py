"""Reading the command line's input files: a scenario, with the library's notes printed.

:func:`load_scenario` reads a scenario file (:func:`kernelgda.scenario.load_scenario`) and
prints each warning the library gave about it (the deprecated place ``gda.lam``) as one
``kernelgda: note:`` line on stderr: a command-line user sees it whatever Python's warning
settings, and ``python -W error`` does not turn a loadable file into a traceback.
"""

from __future__ import annotations

import sys
import warnings

__all__ = ["load_scenario"]


def load_scenario(path, *, max_memory=None):
    """:func:`kernelgda.scenario.load_scenario` with its warnings as ``kernelgda: note:`` lines."""
    from ..scenario import load_scenario as load

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        scenario = load(path, max_memory=max_memory)
    for warning in caught:
        if issubclass(warning.category, DeprecationWarning):
            print(f"kernelgda: note: {path}: {warning.message}", file=sys.stderr)
        else:  # not ours to silence: hand it back to the warning filters
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return scenario
