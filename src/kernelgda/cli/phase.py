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
:func:`kernelgda.compare`). A simulated sweep shows a progress bar on stderr and
saves each finished chunk of cells in ``DIR/phase.partial/``; after an interruption,
the same command with ``--resume`` computes only the missing chunks. Bad input:
one line on stderr, exit code 2, nothing written.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from .rates import to_jsonable

__all__ = ["register", "run", "parse_axis", "parse_setting"]

PARTIAL = "phase.partial"
#: Dataset attributes that are settings of the sweep, not parameters of the game.
_SETTINGS = ("method", "tol", "prediction", "axes", "kernelgda_version", "num_steps", "measure_tol",
             "e0_scale", "seed", "history_tol", "chunk_size", "scenario", "kernel", "scenario_source")
_INTEGER = ("n", "d_steps")


def _number(text, what):
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what}: values must be finite, got {text!r}")
    return value


def parse_axis(spec: str):
    """``NAME=START:STOP:NUM[:log|lin]`` or ``NAME=V1,V2,...`` -> ``(name, values)``.

    >>> parse_axis("lam=0:1:3")
    ('lam', [0.0, 0.5, 1.0])
    >>> parse_axis("mode=alternating,simultaneous")
    ('mode', ['alternating', 'simultaneous'])
    """
    name, sep, rest = spec.partition("=")
    name = name.strip()
    what = f"--axis {spec!r}"
    if not sep or not name or not rest.strip():
        raise ValueError(f"{what}: expected NAME=START:STOP:NUM[:log|lin] or NAME=V1,V2,...")
    if name == "mode":
        return name, [v.strip() for v in rest.split(",") if v.strip()]
    if ":" not in rest:
        items = [v for v in rest.split(",") if v.strip()]
        if not items:
            raise ValueError(f"{what}: no values")
        return name, [_number(v, what) for v in items]
    parts = rest.split(":")
    if len(parts) not in (3, 4):
        raise ValueError(f"{what}: expected START:STOP:NUM or START:STOP:NUM:log")
    start, stop = _number(parts[0], what), _number(parts[1], what)
    num = _number(parts[2], what)
    if num != int(num) or num < 1:
        raise ValueError(f"{what}: NUM must be a whole number >= 1, got {parts[2]!r}")
    scale = parts[3].strip() if len(parts) == 4 else "lin"
    if scale not in ("log", "lin", "linear"):
        raise ValueError(f"{what}: spacing must be 'log' or 'lin', got {scale!r}")
    if scale == "log":
        if start <= 0 or stop <= 0:
            raise ValueError(f"{what}: a log axis needs START > 0 and STOP > 0")
        values = np.geomspace(start, stop, int(num))
    else:
        values = np.linspace(start, stop, int(num))
    return name, values.tolist()


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
                       description=__doc__.split("\n\n")[0] + " Writes DIR/phase.nc, DIR/phase.png, "
                       "DIR/summary.json.")
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
    p.add_argument("--chunk-size", type=int, default=512, help="simulated cells per chunk")
    p.add_argument("--seed", type=int, default=0, help="seed of the direction of e0")
    p.add_argument("--workers", type=int, default=None,
                   help="threads simulating chunks at once (default 2, 1 on a one-core machine)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted simulated sweep")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.set_defaults(func=run)


def _counts(codes, labels):
    uniq, num = np.unique(np.asarray(codes).ravel(), return_counts=True)
    return {labels[int(u) + 1] if labels[0] == "undetermined" else labels[int(u)]: int(c)
            for u, c in zip(uniq, num, strict=True)}


class _Chunks:
    """Finished chunks of a simulated sweep, saved atomically in ``DIR/phase.partial``."""

    def __init__(self, out: Path, spec: dict, resume: bool):
        from ..io import atomic_write_text

        self.dir = out / PARTIAL
        manifest = self.dir / "manifest.json"
        self.loaded = {}
        if self.dir.exists():
            if not resume:
                raise ValueError(f"{self.dir} holds an interrupted sweep; rerun with --resume to "
                                 "continue it, or delete that folder to start again")
            try:
                old = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raise ValueError(f"{self.dir} has no readable manifest.json; delete that folder") from None
            if old != spec:
                raise ValueError(f"{self.dir} was started with other arguments; rerun the same command "
                                 "with --resume, or delete that folder to start again")
            for path in sorted(self.dir.glob("chunk_*.npz")):
                with np.load(path) as npz:
                    self.loaded[int(path.stem.split("_")[1])] = {k: npz[k] for k in npz.files}
        else:
            self.dir.mkdir()
            atomic_write_text(manifest, json.dumps(spec, indent=1, sort_keys=True))

    def save(self, index, arrays):
        from ..io import atomic_path

        with atomic_path(self.dir / f"chunk_{index:05d}.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)

    def finish(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def run(args) -> int:
    from .. import compare, phase_diagram
    from ..io import atomic_path, atomic_write_text, writable_dir
    from ..phase import check_grid, closed_form_boundaries, for_netcdf

    axes = {}
    for spec in args.axis:
        name, values = parse_axis(spec)
        if name in axes:
            raise ValueError(f"--axis {name} given twice")
        axes[name] = values
    fixed = dict(parse_setting(s) for s in args.set)
    for name, what in (("steps", args.steps), ("chunk-size", args.chunk_size),
                       ("workers", 1 if args.workers is None else args.workers)):
        if what < 1:
            raise ValueError(f"--{name} must be >= 1, got {what}")
    if not 0 <= args.history_tol < 1:
        raise ValueError(f"--history-tol must be in [0, 1), got {args.history_tol}")
    scenario = None
    if args.scenario is not None:
        from ..scenario import load_scenario

        scenario = load_scenario(args.scenario)
    shape = check_grid(axes, fixed, method=args.method, scenario=scenario)
    out = writable_dir(args.out)
    kwargs = {}
    chunks = None
    if args.method == "simulate":
        spec = {"axes": axes, "fixed": fixed, "scenario": None if scenario is None else scenario.source,
                "steps": args.steps, "history_tol": args.history_tol, "tol": args.tol,
                "measure_tol": args.measure_tol, "chunk_size": args.chunk_size, "seed": args.seed}
        chunks = _Chunks(out, to_jsonable(spec), args.resume)
        from tqdm import tqdm

        bar = tqdm(total=math.prod(shape), unit="cell", desc="simulating", file=sys.stderr,
                   initial=sum(len(c["cells"]) for c in chunks.loaded.values()))

        def on_chunk(index, arrays, num_chunks):
            chunks.save(index, arrays)
            bar.update(len(arrays["cells"]))

        kwargs = {"num_steps": args.steps, "history_tol": args.history_tol or None,
                  "measure_tol": args.measure_tol, "seed": args.seed, "chunk_size": args.chunk_size,
                  "completed": chunks.loaded, "on_chunk": on_chunk, "workers": args.workers}
    start = time.perf_counter()
    try:
        ds = phase_diagram(axes, fixed, method=args.method, scenario=scenario, tol=args.tol, **kwargs)
    finally:
        if chunks is not None:
            bar.close()
    elapsed = time.perf_counter() - start

    summary = _summary(ds, args, axes, fixed, elapsed)
    comparison = None
    if args.method == "simulate":
        comparison = compare(ds)
        summary["agreement"] = comparison.as_dict()
    figure, plot_note = None, None
    if len(shape) == 3:
        plot_note = "plot skipped: a phase diagram with 3 axes has no 2-d picture (the data is in phase.nc)"
    else:
        from ..plotting import phase_figure

        boundaries, boundary_note = closed_form_boundaries(ds)
        summary["boundaries"] = boundary_note if boundaries is not None else f"not drawn: {boundary_note}"
        figure = phase_figure(ds, boundaries, title=f"kernelgda phase ({args.method})")

    with atomic_path(out / "phase.nc") as tmp:
        for_netcdf(ds).to_netcdf(tmp, engine="scipy")
    files = ["phase.nc"]
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
    if chunks is not None:
        chunks.finish()
    print(f"{args.method} phase diagram, {math.prod(shape)} cells in {elapsed:.2f} s: "
          + ", ".join(f"{k} {v}" for k, v in summary["regimes"].items()))
    if comparison is not None:
        print(comparison.table())
    print(f"wrote {', '.join(str(out / f) for f in files)}")
    return 0


def _summary(ds, args, axes, fixed, elapsed) -> dict:
    from ..regimes import REGIMES
    from ..status import Status

    labels = ("undetermined",) + REGIMES
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
        "elapsed_s": round(elapsed, 3),
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
