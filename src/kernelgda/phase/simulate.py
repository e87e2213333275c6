"""Simulated phase diagrams: the cells of one block run and measured together.

Each cell is started at ``(f*, Y* + e0)`` with ``|e0| = 1e-6 sigma`` (one seeded unit
direction) and its dominant eigenvalue is *measured* from the exact trajectory, by the
protocol of :mod:`kernelgda.check` (theory section 7, experiment 1). The cells of a block
(:mod:`kernelgda.phase.sweep`) are advanced together (:func:`kernelgda.simulate_batch`).
"""

from __future__ import annotations

import numpy as np

from ..check import E0_SCALE, check_rates, measured_codes
from ..equilibrium import Equilibrium
from ..game import KernelGAN
from ..kernels import Gaussian
from ..status import Status
from .grid import cell_gdas

__all__ = ["simulate_cells", "HISTORY_TOL", "CHUNK_SIZE"]

#: History truncation of simulated sweeps (kernelgda.discriminator): the gradient error
#: stays below 1e-15 of the expansion's total mass times the largest kernel gradient. The
#: truncated dynamics have a fixed point shifted by about that error; at 1e-12 the shift sat
#: above the measurement's noise floor and a converging optimistic cell measured ``|z| = 0.9997``
#: instead of 0.9534 (the run settles on the shifted point, which the fit reads as an
#: eigenvalue 1). 1e-15 keeps the shift below rounding at the cost of ~25% more history.
HISTORY_TOL = 1e-15
#: Cells per simulated block by default (the unit of scheduling, progress and storage).
CHUNK_SIZE = 512


def simulate_cells(params, num, runnable, settings, fps=None):
    """Run and measure the ``runnable`` cells of one block together (flat arrays ``params``
    over its ``num`` cells); ``settings`` has ``num_steps``, ``history_tol``, ``measure_tol``
    and ``seed``; ``fps`` the scenario's :class:`~kernelgda.phase.predict.FixedPoint` of each
    cell (``None``: the isolated model). Cells not run are ``skipped`` with ``nan`` values."""
    measured = np.full(num, complex(np.nan, np.nan))
    status = np.full(num, Status.SKIPPED.code, dtype=np.int8)
    taken = np.zeros(num, dtype=np.int64)
    bound = np.full(num, np.nan)
    escaped = np.zeros(num, dtype=bool)
    cells = np.nonzero(runnable)[0]
    if cells.size:
        res = _run(params, num, cells, settings, fps)
        escaped[cells] = res.escaped
        measured[cells] = res.dominant
        status[cells] = res.status
        taken[cells] = res.num_taken
        bound[cells] = res.truncation_bound
    return {"measured_rate": np.abs(measured), "measured_real": measured.real,
            "measured_imag": measured.imag,
            "measured_regime": measured_codes(measured, escaped, settings.measure_tol),
            "status": status, "num_taken": taken, "truncation_bound": bound}


def _run(params, num, cells, settings, fps):
    def get(name, default=None):
        value = params.get(name, default)
        return value[cells] if isinstance(value, np.ndarray) else np.full(len(cells), value)

    lam = get("lam")
    gdas = cell_gdas(params, cells, num)
    if fps is None:
        p, q, n, sigma = get("p"), get("q"), get("n"), get("sigma")
        gans = [KernelGAN(np.zeros((1, 1)), pp, Gaussian(sigma=s), lam=lm)
                for pp, s, lm in zip(p, sigma, lam, strict=True)]
        nn = int(n[0])
        eqs = [Equilibrium(y=np.zeros((nn, 1)), q=np.full(nn, qq), residual=0.0, iterations=0,
                           converged=True, message="isolated points: Y* on the true point")
               for qq in q]
    else:
        gans = [fps[c].gan.with_lam(lm) for c, lm in zip(cells, lam, strict=True)]
        eqs = [fps[c].eq for c in cells]
    # the same unit direction of e0 for every cell of this shape (kernelgda.check)
    return check_rates(gans, gdas, eqs, settings.num_steps, seed=settings.seed, e0_scale=E0_SCALE,
                       history_tol=settings.history_tol or 0.0, tol=settings.measure_tol)
