"""Input files: reading a TOML file safely and typed values out of its tables.

:func:`read_toml` is the one way a file given by a user is parsed: it must be a regular file
(not ``/dev/zero``, a FIFO or a directory) of at most :data:`MAX_FILE_BYTES`, and every
problem (unreadable, not UTF-8, malformed TOML, nested deeper than the parser can follow, an
integer too long to read) is one ``ValueError`` naming the file. The value readers below
name the dotted key (``kernel.sigma``) and say what was expected; numbers go through
:mod:`kernelgda._validate`, so a file obeys the same rules as a library call.

Examples
--------
>>> tab = {"kernel": {"sigma": 0.5, "sigmas": [0.3, 1]}}
>>> scalar(tab["kernel"], "sigma", "kernel.", positive=True)
0.5
>>> numeric_array(tab["kernel"]["sigmas"], "kernel.sigmas").tolist()
[0.3, 1.0]
>>> scalar(tab["kernel"], "alpha", "kernel.")
Traceback (most recent call last):
...
ValueError: missing required key kernel.alpha
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import numpy as np

from . import _validate as V

__all__ = ["MAX_FILE_BYTES", "MAX_DEPTH", "read_toml", "table", "check_keys", "number", "scalar",
           "integer", "string", "numeric_array"]

#: Largest input file read (64 MiB: a million explicit 2-d points fit with room to spare).
MAX_FILE_BYTES = 64 * 2**20
#: Deepest nesting of arrays in a value (an ``(n, d)`` list of points is 2 deep).
MAX_DEPTH = 3


def read_toml(path, what: str = "scenario file") -> dict:
    """Parse the TOML file ``path``: a regular file of at most :data:`MAX_FILE_BYTES`, read
    with that bound; every failure is one ``ValueError`` beginning ``"{what} 'path'"``."""
    name = f"{what} {str(path)!r}"
    try:  # O_NONBLOCK: opening a FIFO must not wait for a writer before it can be refused
        fd = os.open(Path(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"{name} is not a regular file")
            if info.st_size > MAX_FILE_BYTES:
                raise ValueError(f"{name} has {info.st_size} bytes, over the limit of {MAX_FILE_BYTES} "
                                 f"({MAX_FILE_BYTES // 2**20} MiB)")
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {name}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:  # it grew while we read it
        raise ValueError(f"{name} is over the limit of {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name} is not UTF-8 text: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{name} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ValueError(f"{name} is nested too deeply to read (arrays or tables inside each other "
                         "thousands of levels deep)") from None
    except ValueError as exc:  # an integer over Python's 4300-digit string limit
        raise ValueError(f"{name} holds a number that cannot be read ({str(exc).split(';')[0]}); "
                         "numbers must lie within the float64 range") from None


def table(parent: dict, key: str, path: str, *, required: bool = True) -> dict:
    """The sub-table ``parent[key]`` (``{}`` when absent and not ``required``)."""
    full = f"{path}{key}"
    if key not in parent:
        if required:
            raise ValueError(f"missing required table [{full}]")
        return {}
    value = parent[key]
    if not isinstance(value, dict):
        raise ValueError(f"{full} must be a table ([{full}]), got {type(value).__name__} {_show(value)}")
    return value


def check_keys(tab: dict, allowed, path: str, what: str) -> None:
    """Refuse the first key of ``tab`` not in ``allowed``, listing what is."""
    unknown = [k for k in tab if k not in allowed]
    if unknown:
        where = f"in [{path.rstrip('.')}]" if path else "at the top level"
        raise ValueError(f"unknown key {path}{unknown[0]!r} {where}; expected {what}: {', '.join(allowed)}")


def _show(value) -> str:
    text = V.short(value)
    return text if len(text) <= 60 else text[:57] + "..."


def number(value, full: str):
    """``value`` if it is a TOML number (int or float, not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{full} must be a number, got {type(value).__name__} {_show(value)}")
    return value


def scalar(tab: dict, key: str, path: str, *, default=None, positive=False, nonnegative=False) -> float:
    """A finite float (:func:`kernelgda._validate.scalar`); ``default`` when absent, required
    when ``default`` is None."""
    full = f"{path}{key}"
    if key not in tab:
        if default is None:
            raise ValueError(f"missing required key {full}")
        return default
    return V.scalar(number(tab[key], full), full, positive=positive, nonnegative=nonnegative)


def integer(tab: dict, key: str, path: str, *, default=None, minimum=None) -> int:
    """An int (:func:`kernelgda._validate.integer`); a TOML float is refused."""
    full = f"{path}{key}"
    if key not in tab:
        if default is None:
            raise ValueError(f"missing required key {full}")
        return default
    value = tab[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{full} must be an integer, got {type(value).__name__} {_show(value)}")
    return V.integer(value, full, minimum=minimum)


def string(tab: dict, key: str, path: str, *, default=None, options=None) -> str:
    """A string, one of ``options`` when given."""
    full = f"{path}{key}"
    if key not in tab:
        if default is None:
            raise ValueError(f"missing required key {full}")
        return default
    value = tab[key]
    if not isinstance(value, str):
        raise ValueError(f"{full} must be a string, got {type(value).__name__} {_show(value)}")
    if options is not None:
        V.choice(value, full, options)
    return value


def numeric_array(value, full: str) -> np.ndarray:
    """A number or (nested) list of numbers, at most :data:`MAX_DEPTH` deep, as a float64 array;
    refuses strings, bools, ragged lists and integers beyond float64."""
    level, depth = [value], 0
    while level:  # breadth first, so that no nesting can exhaust the stack
        if depth > MAX_DEPTH:
            raise ValueError(f"{full} is nested more than {MAX_DEPTH} lists deep (rows of numbers: 2)")
        nxt = []
        for v in level:
            if isinstance(v, list):
                nxt.extend(v)
            else:
                number(v, full)
        level, depth = nxt, depth + 1
    try:
        return V.reals(value, full)
    except ValueError as exc:
        if "rectangular" in str(exc):
            raise ValueError(f"{full} must be a rectangular array of numbers (rows of equal length)") \
                from None
        raise
