"""Simulated phase diagrams: every cell run and measured, in chunks that can be resumed.

Each cell is started at ``(f*, Y* + e0)`` with ``|e0| = 1e-6 sigma`` (one seeded unit
direction) and its dominant eigenvalue is *measured* from the exact trajectory, by the
protocol of :mod:`kernelgda.check` (theory section 7, experiment 1). Cells are advanced
together in chunks (:func:`kernelgda.simulate_batch`); a chunk is the unit of progress:
``on_chunk`` receives each finished one and ``completed`` hands finished ones back to a
resumed sweep, recognised by their cells and a fingerprint of their parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..check import E0_SCALE, check_rates, measured_codes
from ..equilibrium import Equilibrium
from ..game import KernelGAN
from ..kernels import Gaussian
from ..status import Status
from .grid import cell_gdas

__all__ = ["SimulationSetup", "simulate_chunk", "simulate_cells", "HISTORY_TOL", "CHUNK_SIZE"]

#: History truncation of simulated sweeps (kernelgda.discriminator): the gradient error
#: stays below 1e-15 of the expansion's total mass times the largest kernel gradient. The
#: truncated dynamics have a fixed point shifted by about that error; at 1e-12 the shift sat
#: above the measurement's noise floor and a converging optimistic cell measured |z| = 0.9997
#: instead of 0.9534 (the run settles on the shifted point, which the fit reads as an
#: eigenvalue 1). 1e-15 keeps the shift below rounding at the cost of ~25% more history.
HISTORY_TOL = 1e-15
#: Cells per simulated chunk (the unit of progress and of ``completed`` / ``on_chunk``).
CHUNK_SIZE = 512


@dataclass
class SimulationSetup:
    """Everything a chunk of simulated cells needs, per cell (flat arrays) or per kernel group."""

    params: dict
    num: int
    num_steps: int
    history_tol: float | None
    measure_tol: float
    seed: int
    scenario: object = None
    groups: list = field(default_factory=list)
    group_of: np.ndarray | None = None


def simulate_chunk(cells, setup):
    """Run and measure the cells ``cells`` (flat indices) together; returns the chunk's arrays."""
    par = setup.params
    num = len(cells)

    def get(name, default=None):
        value = par.get(name, default)
        return value[cells] if isinstance(value, np.ndarray) else np.full(num, value)

    lam = get("lam")
    gdas = cell_gdas(par, cells, setup.num)
    if setup.scenario is None:
        p, q, n, sigma = get("p"), get("q"), get("n"), get("sigma")
        gans = [KernelGAN(np.zeros((1, 1)), pp, Gaussian(sigma=s), lam=lm)
                for pp, s, lm in zip(p, sigma, lam, strict=True)]
        nn = int(n[0])
        eqs = [Equilibrium(y=np.zeros((nn, 1)), q=np.full(nn, qq), residual=0.0, iterations=0,
                           converged=True, message="isolated points: Y* on the true point")
               for qq in q]
    else:
        gans, eqs = [], []
        for c, lm in zip(cells, lam, strict=True):
            fp = setup.groups[setup.group_of[c]][0]
            gans.append(fp.gan.with_lam(lm))
            eqs.append(fp.eq)
    # the same unit direction of e0 for every cell of this shape (kernelgda.check)
    res = check_rates(gans, gdas, eqs, setup.num_steps, seed=setup.seed, e0_scale=E0_SCALE,
                      history_tol=setup.history_tol, tol=setup.measure_tol)
    return {"cells": np.asarray(cells, dtype=np.int64), "fingerprint": _fingerprint(cells, setup),
            "escaped": res.escaped.astype(np.int8),
            "measured_real": res.dominant.real, "measured_imag": res.dominant.imag,
            "status": res.status, "num_taken": res.num_taken, "truncation_bound": res.truncation_bound}


def _fingerprint(cells, setup):
    """Per cell: the numeric parameters and the run settings, to recognise a chunk when resuming."""
    cols = [np.broadcast_to(np.asarray(v, dtype=float), (setup.num,))[cells]
            for k, v in sorted(setup.params.items()) if k != "mode"]
    settings = [setup.num_steps, -1.0 if setup.history_tol is None else setup.history_tol, setup.seed]
    cols += [np.full(len(cells), float(v)) for v in settings]
    return np.stack(cols, axis=1)


def _plan(setup, runnable):
    """Chunks of cells, sorted by update rule and by decreasing ``eta_d lam`` (similar history
    windows share a chunk, theory section 2), each at most ``chunk_size`` cells."""
    par = setup.params
    cells = np.nonzero(runnable)[0]
    a = np.broadcast_to(par["eta_d"] * par["lam"], (setup.num,))[cells]
    mode = np.broadcast_to(np.asarray(par.get("mode", "alternating"), dtype=str), (setup.num,))[cells]
    d_steps = np.broadcast_to(par.get("d_steps", 1), (setup.num,))[cells]
    n = np.broadcast_to(par.get("n", 1), (setup.num,))[cells]
    order = np.lexsort((-a, d_steps, mode, n))
    return cells[order]


def _run_simulation(setup, runnable, chunk_size, completed, on_chunk, workers):
    order = _plan(setup, runnable)
    # cells with different n cannot share a batch: split the chunks where n changes
    n = np.broadcast_to(setup.params.get("n", 1), (setup.num,))[order]
    breaks = np.nonzero(np.diff(n))[0] + 1
    chunks = []
    for piece in np.split(order, breaks):
        chunks += [piece[i:i + chunk_size] for i in range(0, len(piece), chunk_size)]
    results = {}
    completed = {} if completed is None else completed
    for i in completed:
        if i >= len(chunks):
            raise ValueError(f"completed chunk {i} does not belong to this sweep "
                             f"(it has {len(chunks)} chunks)")
        res, cells = completed[i], chunks[i]
        if not (np.array_equal(np.asarray(res.get("cells")), cells)
                and np.array_equal(np.asarray(res.get("fingerprint")), _fingerprint(cells, setup))):
            raise ValueError(f"completed chunk {i} does not belong to this sweep (its cells differ); "
                             "resume only with the same axes, parameters and options")
        results[i] = res
    todo = [i for i in range(len(chunks)) if i not in completed]

    def finish(i, res):
        results[i] = res
        if on_chunk is not None:
            on_chunk(i, res, len(chunks))

    if workers == 1 or len(todo) < 2:
        for i in todo:
            finish(i, simulate_chunk(chunks[i], setup))
        return chunks, results
    # Chunks are independent; NumPy releases the GIL in the array operations that take the
    # time, so threads use several cores. Results are reported in chunk order.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [(i, pool.submit(simulate_chunk, chunks[i], setup)) for i in todo]
        try:
            for i, fut in futures:
                finish(i, fut.result())
        finally:
            for _, fut in futures:
                fut.cancel()
    return chunks, results


def simulate_cells(setup, runnable, chunk_size, completed, on_chunk, workers):
    """Simulate the ``runnable`` cells in chunks and gather the measured arrays of every cell
    (``status`` skipped and ``nan`` where not run)."""
    num = setup.num
    measured = np.full(num, complex(np.nan, np.nan))
    status = np.full(num, Status.SKIPPED.code, dtype=np.int8)
    taken = np.zeros(num, dtype=np.int64)
    bound = np.full(num, np.nan)
    escaped = np.zeros(num, dtype=bool)
    _, results = _run_simulation(setup, runnable, chunk_size, completed, on_chunk, workers)
    for res in results.values():
        cells = np.asarray(res["cells"])
        escaped[cells] = np.asarray(res["escaped"], dtype=bool)
        measured[cells] = np.asarray(res["measured_real"]) + 1j * np.asarray(res["measured_imag"])
        status[cells] = res["status"]
        taken[cells] = res["num_taken"]
        bound[cells] = res["truncation_bound"]
    return {"measured_rate": np.abs(measured), "measured_real": measured.real,
            "measured_imag": measured.imag,
            "measured_regime": measured_codes(measured, escaped, setup.measure_tol),
            "status": status, "num_taken": taken, "truncation_bound": bound}
