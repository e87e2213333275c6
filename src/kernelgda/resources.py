"""Memory limits: estimate what a request needs before allocating it, refuse in one line.

Every large request (a phase grid, a set of points, a stored trajectory, pairwise
blocks) is sized with an estimator below *before* anything is allocated, and
:func:`check_bytes` raises a one-line ``ValueError`` when the estimate exceeds the
limit, saying what would fit. The command line prints that line and exits with
code 2; ``--max-memory SIZE`` (parsed by :func:`parse_size`) raises the limit.

The default limit is :data:`DEFAULT_FRACTION` of the memory available now
(:func:`available_memory`: ``MemAvailable`` of ``/proc/meminfo`` on Linux, else
``os.sysconf``, else the conservative :data:`FALLBACK_AVAILABLE`). Sizes are
printed in decimal units (1 GB = 1e9 bytes), and :func:`parse_size` reads ``K``,
``M``, ``G``, ``T`` the same way (``KiB`` ... ``TiB`` for powers of 1024).

Examples
--------
>>> import textwrap
>>> grid_bytes(10**9, 3)
24000000000
>>> try:
...     check_bytes(grid_bytes(10**9, 3), "phase grid", limit=parse_size("11.5G"),
...                 detail="1e9 cells x 3 float64 variables", hint="use fewer cells")
... except ValueError as exc:
...     print(textwrap.fill(str(exc), 90))
phase grid: needs 24.0 GB (1e9 cells x 3 float64 variables), over the limit of 11.5 GB;
use fewer cells or raise --max-memory
"""

from __future__ import annotations

import math
import os
import re
import shutil

__all__ = ["DEFAULT_FRACTION", "FALLBACK_AVAILABLE", "ITEMSIZE", "address_space_left", "available_memory",
           "default_limit",
           "parse_size", "format_size", "check_bytes", "grid_bytes", "points_bytes", "trajectory_bytes",
           "pairwise_bytes", "check_grid", "check_trajectory", "check_history", "disk_free",
           "format_count"]

#: Share of the available memory one request may take by default.
DEFAULT_FRACTION = 0.5
#: Assumed available memory where the platform cannot tell (2 GB: small on purpose).
FALLBACK_AVAILABLE = 2 * 10**9
#: Bytes per float64 value.
ITEMSIZE = 8

_UNITS = {"": 1, "B": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
          "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def address_space_left(status: str = "/proc/self/status") -> int | None:
    """Bytes this process may still map under its address-space limit (``ulimit -v``,
    ``RLIMIT_AS``): the soft limit less the current ``VmSize``; ``None`` without a limit.

    A process started under ``ulimit -v`` cannot allocate past it whatever the machine has
    free, so :func:`available_memory` takes the smaller of the two.
    """
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, AttributeError, OSError, ValueError):
        return None
    if soft == resource.RLIM_INFINITY or soft < 0:
        return None
    used = 0
    try:
        with open(status, encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    used = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    return max(int(soft) - used, 0)


def available_memory(meminfo: str = "/proc/meminfo") -> int:
    """Bytes of memory available to a new allocation now.

    ``MemAvailable`` from ``/proc/meminfo`` (Linux), else ``SC_AVPHYS_PAGES x SC_PAGE_SIZE``
    from ``os.sysconf``, else :data:`FALLBACK_AVAILABLE`; never more than the address space
    left under ``ulimit -v`` (:func:`address_space_left`).
    """
    free = _machine_available(meminfo)
    left = address_space_left()
    return free if left is None else min(free, left)


def _machine_available(meminfo: str) -> int:
    try:
        with open(meminfo, encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    fields = line.split()
                    return int(fields[1]) * (1024 if fields[2:3] == ["kB"] else 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        pages, size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        if pages > 0 and size > 0:
            return int(pages) * int(size)
    except (AttributeError, ValueError, OSError):
        pass
    return FALLBACK_AVAILABLE


def default_limit() -> int:
    """The default limit: :data:`DEFAULT_FRACTION` of :func:`available_memory`."""
    return int(DEFAULT_FRACTION * available_memory())


def disk_free(path=".") -> int | None:
    """Free bytes on the file system holding ``path`` (None if it cannot be read)."""
    try:
        return int(shutil.disk_usage(path).free)
    except OSError:
        return None


def parse_size(text) -> int:
    """Bytes in a size such as ``"4G"``, ``"512M"``, ``"1.5GB"``, ``"2GiB"`` or ``"1000000"``.

    ``K, M, G, T`` (optionally followed by ``B``) are powers of 1000, ``KiB ... TiB`` powers
    of 1024; case does not matter. An int is returned unchanged.

    Examples
    --------
    >>> parse_size("4G"), parse_size("512m"), parse_size("2GiB"), parse_size("1e6")
    (4000000000, 512000000, 2147483648, 1000000)
    """
    if isinstance(text, int) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
        if match is None or match.group(2).upper() not in _UNITS:
            raise ValueError(f"expected a size such as 4G, 512M, 2GiB or a number of bytes, got {text!r}")
        value, unit = float(match.group(1)), match.group(2).upper()
    nbytes = value * _UNITS[unit]
    if not math.isfinite(nbytes) or nbytes < 1:
        raise ValueError(f"a size must be a finite number of bytes >= 1, got {text!r}")
    return int(nbytes)


def format_size(nbytes) -> str:
    """``nbytes`` in decimal units with three significant digits: ``24.0 GB``, ``512 MB``, ``80 B``."""
    nbytes = float(nbytes)
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= size:
            value = nbytes / size
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{nbytes:.0f} B"


def format_count(count) -> str:
    """A count for a message: ``12345`` as is, ``1000000000`` as ``1e9`` (three digits).

    >>> format_count(12345), format_count(10**9), format_count(123456789)
    ('12345', '1e9', '1.23e8')
    """
    count = int(count)
    if count < 10**5:
        return str(count)
    text = f"{count:.3g}"
    return text.replace("e+0", "e").replace("e+", "e")


def _count(value, name: str) -> int:
    if isinstance(value, bool) or not float(value).is_integer() or value < 0:
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    return int(value)


def grid_bytes(num_cells, num_variables, *, itemsize: int = ITEMSIZE) -> int:
    """Bytes of ``num_variables`` arrays over ``num_cells`` grid cells."""
    return _count(num_cells, "num_cells") * _count(num_variables, "num_variables") * itemsize


def points_bytes(n, d, *, itemsize: int = ITEMSIZE) -> int:
    """Bytes of an ``(n, d)`` array of points."""
    return _count(n, "n") * _count(d, "d") * itemsize


def trajectory_bytes(num_steps, n, d, record_every=1, *, itemsize: int = ITEMSIZE) -> int:
    """Bytes of a stored trajectory: ``num_steps // record_every + 1`` frames (the start
    included) of ``(n, d)`` points."""
    every = _count(record_every, "record_every")
    if every < 1:
        raise ValueError(f"record_every must be >= 1, got {record_every!r}")
    return (_count(num_steps, "num_steps") // every + 1) * points_bytes(n, d, itemsize=itemsize)


def pairwise_bytes(n, m, per_pair=1, *, itemsize: int = ITEMSIZE) -> int:
    """Bytes of dense pairwise blocks: ``per_pair`` values for each of ``n x m`` pairs (e.g.
    ``per_pair = d^2`` for the ``(n, n, d, d)`` kernel Hessians of a fixed-point solve)."""
    return _count(n, "n") * _count(m, "m") * _count(per_pair, "per_pair") * itemsize


def check_bytes(nbytes, what: str, *, limit=None, detail: str | None = None,
                hint: str = "ask for less") -> int:
    """Refuse a request of ``nbytes`` over ``limit`` with one line; return ``nbytes`` otherwise.

    Parameters
    ----------
    nbytes : int
        The estimate (one of the ``*_bytes`` functions).
    what : str
        What would be allocated ("phase grid", "generated points").
    limit : int or str, optional
        Bytes, or a size for :func:`parse_size`; default :func:`default_limit`.
    detail : str, optional
        How the estimate is made up ("1e9 cells x 3 float64 variables").
    hint : str
        What would fit ("use fewer cells", "use record_every >= 40").

    Raises
    ------
    ValueError
        ``"{what}: needs X ({detail}), over the limit of Y; {hint} or raise --max-memory"``.
    """
    limit = default_limit() if limit is None else parse_size(limit)
    nbytes = int(nbytes)
    if nbytes > limit:
        why = f" ({detail})" if detail else ""
        raise ValueError(f"{what}: needs {format_size(nbytes)}{why}, over the limit of "
                         f"{format_size(limit)}; {hint} or raise --max-memory")
    return nbytes


def check_grid(num_cells, num_variables, *, what: str = "phase grid", limit=None, directory=".") -> int:
    """:func:`check_bytes` for a grid; a grid that fits on the disk under ``directory`` is pointed
    at the chunked path (chunks computed in turn and written to disk)."""
    nbytes = grid_bytes(num_cells, num_variables)
    free = disk_free(directory)
    hint = "use fewer cells"
    if free is not None and nbytes <= free // 2:
        hint += f", or the chunked path that writes finished chunks to disk ({format_size(free)} free)"
    return check_bytes(nbytes, what, limit=limit, hint=hint,
                       detail=f"{format_count(num_cells)} cells x {num_variables} float64 variables")


def check_trajectory(num_steps, n, d, record_every=1, *, what: str = "trajectory", limit=None) -> int:
    """:func:`check_bytes` for a stored trajectory; the hint names the smallest ``record_every``
    that fits (or fewer points when even the first and last frames do not)."""
    limit = default_limit() if limit is None else parse_size(limit)
    nbytes = trajectory_bytes(num_steps, n, d, record_every)
    frame = max(points_bytes(n, d), 1)
    frames = limit // frame  # frames that fit, the start included
    if frames >= 2:  # num_steps // k + 1 <= frames for k > num_steps / frames
        hint = f"use record_every >= {int(num_steps) // frames + 1}"
    else:
        hint = "use fewer points"
    num_frames = int(num_steps) // int(record_every) + 1
    detail = f"{format_count(num_frames)} frames x {format_count(n)} points x {d} float64"
    return check_bytes(nbytes, what, limit=limit, hint=hint, detail=detail)


def check_history(num_slices, n, per_centre, *, num_runs=1, what: str = "discriminator history",
                  limit=None) -> int:
    """:func:`check_bytes` for a discriminator history: ``num_runs x num_slices`` slices of ``n``
    centres with ``per_centre`` float64 values each (coordinates and coefficients).

    The history grows by a slice per discriminator step, so its size is what a long run
    needs however few frames it records; the hint says what shrinks it.
    """
    slices = _count(num_slices, "num_slices") * _count(num_runs, "num_runs")
    nbytes = slices * points_bytes(n, per_centre)
    detail = f"{format_count(slices)} slices x {format_count(n)} centres x {per_centre} float64"
    return check_bytes(nbytes, what, limit=limit, detail=detail,
                       hint="use fewer steps or fewer points")
