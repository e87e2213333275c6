"""``kernelgda phase``: phase diagrams over parameter grids (theory sections 5-7).

Example::

    kernelgda phase --axis sigma=0.01:1:200:log --axis lam=0.01:10:200:log \\
        --set eta_d=0.01 --set eta_g=0.01 --set q=0.8 --out results/phase

Axes are ``NAME=START:STOP:NUM[:log|lin]`` (``NUM`` values from ``START`` to ``STOP``,
evenly spaced, geometrically with ``log``) or ``NAME=V1,V2,...``; ``--set NAME=VALUE``
fixes another parameter. Every update rule of theory section 8 is available:
``--set mode=momentum --set beta=-0.3``, ``--axis d_steps=1,2,4`` (alternating),
``--axis mode=alternating,extragradient,optimistic``. Methods (:func:`kernelgda.phase_diagram`): ``theory``
(isolated closed forms), ``linearize`` (the Jacobian of ``--scenario FILE``) and
``simulate`` (exact dynamics of every cell, the isolated model or ``--scenario``).

Writes, each atomically, ``DIR/phase.nc`` (the dataset, netCDF 3 via xarray's scipy
engine; the attribute ``mode`` is stored as ``gda_mode``, which that engine needs,
:func:`kernelgda.phase.from_netcdf` restores it), ``DIR/phase.png`` (rate heat map and
regime regions, with the closed-form boundaries of theory section 5 for an isolated
``(sigma, lam)`` diagram of alternating GDA with one discriminator step; skipped with a
note for three axes) and ``DIR/summary.json`` (grid, counts per regime, and
for ``simulate`` the agreement of measured with predicted regimes,
:func:`kernelgda.compare`; no timings: the time goes to stdout, so identical runs write
identical files). A refusal found while computing (a cell beyond float64) removes what the
run created: the directory, the store, the files.

The grid is computed in blocks of ``--chunk-size`` cells, each a Dask task
(:mod:`kernelgda.phase.run`): in this process by default, on a cluster with
``--scheduler tcp://HOST:PORT`` (a running ``dask scheduler``) or ``--scheduler local:N``
(a ``LocalCluster`` of N worker processes for this run). ``--format zarr`` writes
``DIR/phase.zarr`` instead of ``phase.nc``, block by block as blocks finish (readable with
``xarray.open_zarr`` meanwhile); the default ``auto`` writes netCDF when the dataset fits
in memory and a netCDF-3 file, Zarr when it fits in memory only, and refuses (pointing at
``--format zarr``) when it does not fit in memory. A simulated sweep shows a progress bar
on stderr and keeps its finished blocks in ``DIR/phase.zarr`` (with the ``cluster``
extra); after an interruption the same command with ``--resume`` computes only the
missing or damaged blocks. Every argument and the memory estimate (``--max-memory``) are
checked before anything is created: bad input is one line on stderr, exit code 2,
nothing written.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import sys
import time

import numpy as np

from .rates import to_jsonable

__all__ = ["register", "run", "parse_axis", "axis_count", "parse_setting"]

#: Largest dataset written as netCDF 3 by ``--format auto`` (the classic format's 2 GiB offsets).
NETCDF_LIMIT = 2 * 10**9
#: Dataset attributes that are settings of the sweep, not parameters of the game.
_SETTINGS = ("method", "tol", "prediction", "axes", "kernelgda_version", "num_steps", "measure_tol",
             "e0_scale", "seed", "history_tol", "chunk_size", "scenario", "kernel", "scenario_source")
#: Values of one axis that ``parse_axis`` builds at most (a longer axis is refused unbuilt).
MAX_AXIS = 10**8
_INTEGER = ("n", "d_steps")


def _number(text, what):
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what}: values must be finite, got {text!r}")
    return value


def parse_axis(spec: str, *, max_memory=None):
    """``NAME=START:STOP:NUM[:log|lin]`` or ``NAME=V1,V2,...`` -> ``(name, values)``; ``NUM``
    values are sized against ``max_memory`` before they are built.

    >>> parse_axis("lam=0:1:3")
    ('lam', [0.0, 0.5, 1.0])
    >>> parse_axis("mode=alternating,simultaneous")
    ('mode', ['alternating', 'simultaneous'])
    """
    name, values, num, what = _axis(spec)
    if values is not None:
        return name, values
    from ..resources import ITEMSIZE, check_bytes, format_count

    check_bytes(num * ITEMSIZE, f"--axis {name}", limit=max_memory, hint="use fewer values",
                detail=f"{format_count(num)} float64 values")
    start, stop, scale = _axis(spec, describe=True)
    values = np.geomspace(start, stop, num) if scale == "log" else np.linspace(start, stop, num)
    return name, values.tolist() if values.size <= 10**4 else values  # an array: 8 bytes a value


def axis_count(spec: str) -> int:
    """How many values ``--axis spec`` gives, without building them."""
    return _axis(spec)[2]


def _axis(spec: str, describe: bool = False):
    """``(name, values or None, count, what)``: the values of a list, ``None`` for a range (built
    by :func:`parse_axis` once sized); with ``describe``, ``(start, stop, scale)`` of the range."""
    name, sep, rest = spec.partition("=")
    name = name.strip()
    what = f"--axis {spec!r}"
    if not sep or not name or not rest.strip():
        raise ValueError(f"{what}: expected NAME=START:STOP:NUM[:log|lin] or NAME=V1,V2,...")
    if name == "mode":
        values = [v.strip() for v in rest.split(",") if v.strip()]
        return name, values, len(values), what
    if ":" not in rest:
        items = [v for v in rest.split(",") if v.strip()]
        if not items:
            raise ValueError(f"{what}: no values")
        return name, [_number(v, what) for v in items], len(items), what
    parts = rest.split(":")
    if len(parts) not in (3, 4):
        raise ValueError(f"{what}: expected START:STOP:NUM or START:STOP:NUM:log")
    start, stop = _number(parts[0], what), _number(parts[1], what)
    num = _number(parts[2], what)
    if num != int(num) or num < 1:
        raise ValueError(f"{what}: NUM must be a whole number >= 1, got {parts[2]!r}")
    if num > MAX_AXIS:
        raise ValueError(f"{what}: {parts[2].strip()} values on one axis (at most {MAX_AXIS:.0e}); "
                         "use fewer values")
    scale = parts[3].strip() if len(parts) == 4 else "lin"
    if scale not in ("log", "lin", "linear"):
        raise ValueError(f"{what}: spacing must be 'log' or 'lin', got {scale!r}")
    if scale == "log" and (start <= 0 or stop <= 0):
        raise ValueError(f"{what}: a log axis needs START > 0 and STOP > 0")
    if describe:
        return start, stop, scale
    return name, None, int(num), what


def parse_setting(spec: str):
    """``NAME=VALUE`` -> ``(name, value)`` (a number, or a string for ``mode``)."""
    name, sep, value = spec.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise ValueError(f"--set {spec!r}: expected NAME=VALUE")
    if name == "mode":
        return name, value
    number = _number(value, f"--set {spec!r}")
    return name, int(number) if name in _INTEGER and number.is_integer() else number


def register(sub) -> None:
    p = sub.add_parser("phase", help="phase diagram over a parameter grid",
                       description=__doc__.split("\n\n")[0] + " Writes DIR/phase.nc (or DIR/phase.zarr), "
                       "DIR/phase.png, DIR/summary.json.")
    p.add_argument("--axis", action="append", required=True, metavar="NAME=START:STOP:NUM[:log]",
                   help="swept parameter (1 to 3 of them); or NAME=V1,V2,...")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="fixed parameter (eta_d, eta_g, lam, sigma, p, q, n, mode, beta, d_steps, ...)")
    p.add_argument("--method", choices=("theory", "linearize", "simulate"), default="theory")
    p.add_argument("--scenario", metavar="FILE", help="scenario TOML (linearize; optional for simulate)")
    p.add_argument("--steps", type=int, default=1000, help="steps per simulated cell (default 1000)")
    p.add_argument("--history-tol", type=float, default=1e-12,
                   help="history truncation of simulated runs (default 1e-12; 0 keeps it all)")
    p.add_argument("--tol", type=float, default=1e-6, help="tolerance of predicted labels")
    p.add_argument("--measure-tol", type=float, default=1e-3, help="tolerance of measured labels")
    p.add_argument("--chunk-size", type=int, default=None,
                   help="cells per block, the unit of work and storage (default 512 simulated cells)")
    p.add_argument("--seed", type=int, default=0, help="seed of the direction of e0")
    p.add_argument("--workers", type=int, default=None,
                   help="threads of the embedded scheduler (default 2, 1 on a one-core machine)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the blocks on a Dask cluster: tcp://HOST:PORT or local:N (N worker processes)")
    p.add_argument("--format", choices=("auto", "netcdf", "zarr"), default="auto",
                   help="phase.nc or phase.zarr (default auto: netCDF when it fits in memory)")
    from .analyze import memory_size

    p.add_argument("--max-memory", type=memory_size, metavar="SIZE", default=None,
                   help="memory limit of the estimate checked first (default half the available memory)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted sweep from DIR/phase.zarr")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.set_defaults(func=run)


def _counts(codes, labels):
    uniq, num = np.unique(np.asarray(codes).ravel(), return_counts=True)
    return {labels[int(u) + 1] if labels[0] == "undetermined" else labels[int(u)]: int(c)
            for u, c in zip(uniq, num, strict=True)}


def _parse(args):
    """Axes and fixed parameters, every repetition refused."""
    if args.format != "zarr":  # the grid must fit in memory: sized before any axis is built
        from ..phase.sweep import check_cells

        check_cells(math.prod(axis_count(spec) for spec in args.axis), args.method,
                    max_memory=args.max_memory)
    axes = {}
    for spec in args.axis:
        name, values = parse_axis(spec, max_memory=args.max_memory)
        if name in axes:
            raise ValueError(f"--axis {name} given twice")
        axes[name] = values
    fixed = {}
    for spec in args.set:
        name, value = parse_setting(spec)
        if name in fixed:
            raise ValueError(f"--set {name} given twice ({fixed[name]!r} and {value!r})")
        fixed[name] = value
    return axes, fixed


def _plan(args, axes, fixed, scenario, out):
    """The checked sweep and the output format, before anything is created."""
    from ..phase import plan_sweep
    from ..phase.sweep import PREDICTED, SIMULATED
    from ..resources import ITEMSIZE, default_limit, parse_size

    if args.scheduler is not None:
        from ..phase.run import parse_address

        parse_address(args.scheduler)
    chunk = 1 if args.chunk_size is None else args.chunk_size
    for name, what in (("steps", args.steps), ("chunk-size", chunk),
                       ("workers", 1 if args.workers is None else args.workers)):
        if what < 1:
            raise ValueError(f"--{name} must be >= 1, got {what}")
    if not 0 <= args.history_tol < 1:  # also refuses nan
        raise ValueError(f"--history-tol must be in [0, 1), got {args.history_tol}")
    limit = default_limit() if args.max_memory is None else parse_size(args.max_memory)
    fmt = args.format
    if fmt == "auto":
        nvars = len(PREDICTED) + (len(SIMULATED) if args.method == "simulate" else 0)
        nbytes = math.prod(len(v) for v in axes.values()) * nvars * ITEMSIZE
        fmt = "netcdf" if nbytes <= min(limit, NETCDF_LIMIT) else "zarr" if nbytes <= limit else "netcdf"
    has_zarr = importlib.util.find_spec("zarr") is not None
    if fmt == "zarr" and not has_zarr:
        raise ValueError("--format zarr needs zarr: pip install 'kernelgda[cluster]'")
    parent = out if out.exists() else next((p for p in out.parents if p.exists()), out)
    sweep = plan_sweep(axes, fixed, method=args.method, scenario=scenario, num_steps=args.steps,
                       tol=args.tol, measure_tol=args.measure_tol, history_tol=args.history_tol or None,
                       seed=args.seed, chunk_size=args.chunk_size, max_memory=limit,
                       in_memory=fmt == "netcdf", directory=str(parent))
    from ..phase import STORE_NAME

    store = out / STORE_NAME if fmt == "zarr" or (args.method == "simulate" and has_zarr) else None
    if args.resume and store is None:
        raise ValueError("--resume needs a store: pip install 'kernelgda[cluster]'"
                         if args.method == "simulate" else "--resume applies to --method simulate or "
                         "--format zarr")
    if store is not None and store.exists():
        from ..phase.store import existing_store_message, in_use_message, store_in_use

        if store_in_use(store):  # another run is writing it: neither resume nor delete it
            raise ValueError(in_use_message(store))
        if not args.resume:
            raise ValueError(existing_store_message(store))
    return sweep, fmt, store, limit


def run(args) -> int:
    from pathlib import Path

    from ..io import undo_on_refusal

    axes, fixed = _parse(args)
    scenario = None
    if args.scenario is not None:
        from .inputs import load_scenario

        scenario = load_scenario(args.scenario)
    out = Path(args.out)
    sweep, fmt, store, limit = _plan(args, axes, fixed, scenario, out)
    outputs = [out / name for name in ("phase.nc", "phase.png", "summary.json")]
    from ..phase.store import StoreTaken

    with undo_on_refusal(out, outputs + ([store] if store is not None else []), spare=(StoreTaken,)):
        return _execute(args, axes, fixed, sweep, fmt, store, limit)


def _execute(args, axes, fixed, sweep, fmt, store, limit) -> int:
    """Compute the planned sweep and write its files (``run`` removes them on a refusal)."""
    from .. import compare
    from ..io import atomic_path, atomic_write_text, writable_dir
    from ..phase import closed_form_boundaries, for_netcdf, run_sweep
    from ..phase.run import connect

    client, close = connect(args.scheduler) if args.scheduler is not None else (None, None)
    try:
        out = writable_dir(args.out)
        bar = None
        progress = None
        if args.method == "simulate" or fmt == "zarr":
            from tqdm import tqdm

            def progress(done, total):  # first called once the store is checked (after any note)
                nonlocal bar
                if bar is None:
                    bar = tqdm(total=total, initial=done, unit="cell", desc="computing", file=sys.stderr)
                bar.update(done - bar.n)

        import logging

        notes = logging.StreamHandler(sys.stderr)  # the library's notes (a damaged block), one line each
        notes.setFormatter(logging.Formatter("kernelgda: note: %(message)s"))
        logger = logging.getLogger("kernelgda.phase")
        logger.addHandler(notes)
        start = time.perf_counter()
        try:
            ds = run_sweep(sweep, client=client, store=store, workers=args.workers, progress=progress)
        finally:
            logger.removeHandler(notes)
            if bar is not None:
                bar.close()
        elapsed = time.perf_counter() - start
    finally:
        if close is not None:
            close()
    in_memory = sweep.memory()["result"] <= limit
    if in_memory:
        ds = ds.load()
    summary = _summary(ds, args, axes, fixed)  # no timings: identical runs, identical files
    comparison = None
    if args.method == "simulate" and in_memory:
        comparison = compare(ds)
        summary["agreement"] = comparison.as_dict()
    figure, plot_note = None, None
    if len(sweep.shape) == 3:
        plot_note = f"plot skipped: a phase diagram with 3 axes has no 2-d picture (the data is in " \
                    f"{'phase.nc' if fmt == 'netcdf' else 'phase.zarr'})"
    elif not in_memory:
        plot_note = "plot skipped: the grid does not fit in memory (the data is in phase.zarr)"
    else:
        from ..plotting import phase_figure

        boundaries, boundary_note = closed_form_boundaries(ds)
        summary["boundaries"] = boundary_note if boundaries is not None else f"not drawn: {boundary_note}"
        figure = phase_figure(ds, boundaries, title=f"kernelgda phase ({args.method})")

    files = []
    if fmt == "netcdf":
        with atomic_path(out / "phase.nc") as tmp:
            for_netcdf(ds).to_netcdf(tmp, engine="scipy")
        files.append("phase.nc")
    else:
        files.append(store.name)
    if figure is not None:
        with atomic_path(out / "phase.png") as tmp:
            figure.savefig(tmp, format="png")
        import matplotlib.pyplot as plt

        plt.close(figure)
        files.append("phase.png")
        summary["plot"] = "phase.png"
    else:
        summary["plot"] = plot_note
        print(f"kernelgda: note: {plot_note}", file=sys.stderr)
    files.append("summary.json")
    summary["files"] = files
    atomic_write_text(out / "summary.json", json.dumps(to_jsonable(summary), indent=1) + "\n")
    if fmt == "netcdf" and store is not None:
        shutil.rmtree(store, ignore_errors=True)  # the progress store of a netCDF run
    print(f"{args.method} phase diagram, {sweep.num_cells} cells in {elapsed:.2f} s: "
          + ", ".join(f"{k} {v}" for k, v in summary["regimes"].items()))
    if comparison is not None:
        print(comparison.table())
    print(f"wrote {', '.join(str(out / f) for f in files)}")
    return 0


def _summary(ds, args, axes, fixed) -> dict:
    from ..regimes import REGIMES
    from ..status import Status

    labels = ("undetermined",) + REGIMES
    if not isinstance(ds["generator_rate"].data, np.ndarray):
        return _lazy_summary(ds, args, axes, labels)
    rate = ds["generator_rate"].values
    summary = {
        "method": args.method,
        "scenario": args.scenario,
        "axes": [{"name": k, "num": len(v), "min": ds[k].values.min().item() if ds[k].dtype.kind in "fiu"
                  else None, "max": ds[k].values.max().item() if ds[k].dtype.kind in "fiu" else None,
                  "scale": ds[k].attrs.get("scale")} for k, v in axes.items()],
        "fixed": {k: v for k, v in ds.attrs.items() if k not in _SETTINGS},
        "settings": {k: v for k, v in ds.attrs.items() if k in _SETTINGS and k != "scenario_source"},
        "cells": int(rate.size),
        "regimes": _counts(ds["regime"].values, labels),
        "generator_rate": {"min": float(np.nanmin(rate)) if np.isfinite(rate).any() else None,
                           "max": float(np.nanmax(rate)) if np.isfinite(rate).any() else None},
    }
    if np.isfinite(rate).any():
        best = np.unravel_index(np.nanargmin(rate), rate.shape)
        summary["fastest_cell"] = {**{d: ds[d].values[i].item() for d, i in zip(ds.regime.dims, best,
                                                                                 strict=True)},
                                   "generator_rate": float(rate[best])}
    if "measured_regime" in ds:
        summary["measured_regimes"] = _counts(ds["measured_regime"].values, labels)
        summary["status"] = _counts(ds["status"].values, [s.label for s in Status])
        summary["max_truncation_bound"] = float(np.nanmax(ds["truncation_bound"].values)) \
            if np.isfinite(ds["truncation_bound"].values).any() else None
    return summary


def _lazy_summary(ds, args, axes, labels) -> dict:
    """The summary of a dataset too large for memory, by reductions over its blocks."""
    import dask

    def counts(var):
        codes = range(-1, len(labels) - 1) if labels[0] == "undetermined" else range(len(labels))
        found = dask.compute(*[(ds[var] == c).sum() for c in codes])
        return {labels[c + 1] if labels[0] == "undetermined" else labels[c]: int(n)
                for c, n in zip(codes, found, strict=True) if int(n)}

    lo, hi = dask.compute(ds["generator_rate"].min(), ds["generator_rate"].max())
    summary = {"method": args.method, "scenario": args.scenario,
               "axes": [{"name": k, "num": len(v)} for k, v in axes.items()],
               "fixed": {k: v for k, v in ds.attrs.items() if k not in _SETTINGS},
               "settings": {k: v for k, v in ds.attrs.items() if k in _SETTINGS and k != "scenario_source"},
               "cells": int(ds["generator_rate"].size), "regimes": counts("regime"),
               "generator_rate": {"min": float(lo), "max": float(hi)}}
    if "measured_regime" in ds:
        from ..status import Status

        summary["measured_regimes"] = counts("measured_regime")
        summary["status"] = {s.label: int((ds["status"] == s.code).sum().compute()) for s in Status}
    return summary
