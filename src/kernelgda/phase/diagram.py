"""Phase diagrams: predicted and measured regimes over parameter grids (theory sections 5-7).

:func:`phase_diagram` evaluates a grid of 1, 2 or 3 swept parameters
(:mod:`kernelgda.phase.grid`) by one of three methods and returns an ``xarray.Dataset``
with one coordinate per axis (:mod:`kernelgda.phase.dataset`):

- ``"theory"``: the isolated points closed forms of theory sections 5 and 8;
- ``"linearize"``: the general Jacobian of theory section 4 for a scenario
  (:mod:`kernelgda.phase.predict`);
- ``"simulate"``: the exact dynamics of every cell started at ``(f*, Y* + e0)`` with
  ``|e0| = 1e-6 sigma`` and the dominant eigenvalue *measured* from each trajectory
  (:mod:`kernelgda.phase.simulate`, the protocol of :mod:`kernelgda.check`), next to the
  prediction (``theory`` for the isolated model, ``linearize`` for a scenario).

Every update rule of theory section 8 works with every method: ``mode``, ``beta`` and
``d_steps`` are fixed parameters or axes; in a grid whose ``mode`` varies, ``beta`` acts on
the momentum cells and ``d_steps`` on the alternating ones only (given for a grid without
such cells, they are an error).

Labels follow theory section 6. Predicted labels use ``tol`` (default 1e-6, far above
the rounding of a closed form or a small eigensolve). Measured labels use
``measure_tol`` (default :data:`kernelgda.check.MEASURED_TOL` ``= 1e-3``): a fitted
eigenvalue is only as good as the run's linear window, and in a 1000-step run a modulus
within 1e-3 of 1 cannot be told from 1. A run whose error passes ``1e-3 sigma`` (leaves
the linear regime) too fast for a fit is labelled divergent with a ``nan`` rate. The
measurement keeps the modes that carry signal (:mod:`kernelgda.measure`), so a dominant
mode that ``e0`` hardly excites can be missed (for example optimistic GDA's spurious root
``z ~ mu`` when it dominates: the start ``z_-1 = z_0`` gives it an amplitude of order
``mu^2``). :func:`kernelgda.compare` counts agreement between measured and predicted
labels, away from and near the label boundaries.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping

import numpy as np

from .. import _validate as V
from ..check import E0_SCALE, MEASURED_TOL
from ..regimes import DEFAULT_TOL
from .dataset import build_dataset
from .grid import setup_grid
from .predict import fixed_points, predict_isolated, predict_scenario
from .simulate import CHUNK_SIZE, HISTORY_TOL, SimulationSetup, simulate_cells

__all__ = ["phase_diagram"]


def phase_diagram(axes, fixed=None, *, method: str = "theory", scenario=None, num_steps: int = 1000,
                  tol: float = DEFAULT_TOL, measure_tol: float = MEASURED_TOL,
                  history_tol: float | None = HISTORY_TOL, seed: int = 0, chunk_size: int = CHUNK_SIZE,
                  completed: Mapping | None = None,
                  on_chunk: Callable[[int, dict, int], None] | None = None, workers: int | None = None):
    """Regimes and rates over a grid of parameters (theory sections 5-7).

    Parameters
    ----------
    axes : dict of str to 1-d array
        One to three swept parameters and their values, in dimension order. For the
        isolated model (``method="theory"``, or ``"simulate"`` without a scenario):
        any of :data:`ISOLATED_PARAMS`; with a scenario: any of :data:`SCENARIO_PARAMS`.
        ``mode`` takes strings (any rule of theory section 8); ``n`` and ``d_steps``
        integers; ``beta`` values in ``(-1, 1)``.
    fixed : dict, optional
        The other parameters. Isolated model: ``eta_d``, ``eta_g``, ``lam`` and ``sigma``
        are required (axis or fixed); ``p = 1``, ``q = 1``, ``n = 1`` and
        ``mode = "alternating"`` by default; ``beta`` (momentum) and ``d_steps``
        (alternating) act on the cells of their rule only (module docstring). With a
        scenario, overrides of its values.
    method : {"theory", "linearize", "simulate"}
        See the module docstring.
    scenario : Scenario, optional
        Required by ``"linearize"``; with ``"simulate"`` it replaces the isolated model.
    num_steps : int
        Steps per simulated cell.
    tol : float
        Tolerance of predicted labels (theory section 6).
    measure_tol : float
        Tolerance of measured labels (default :data:`kernelgda.check.MEASURED_TOL`; module
        docstring).
    history_tol : float or None
        History truncation of simulated cells (:mod:`kernelgda.discriminator`);
        ``None`` keeps the full history.
    seed : int
        Seed of the direction of ``e0`` (one unit ``(n, d)`` direction for all cells).
    chunk_size : int
        Simulated cells advanced together.
    completed : dict of int to dict, optional
        Chunks finished by an earlier, interrupted call with the same arguments, as
        passed to ``on_chunk``; they are not recomputed.
    on_chunk : callable, optional
        ``on_chunk(index, arrays, num_chunks)`` after each newly simulated chunk, in
        chunk order (to save it, or to show progress).
    workers : int, optional
        Threads simulating chunks at the same time (default: 2, or 1 on a one-core
        machine). The result does not depend on it.

    Returns
    -------
    xarray.Dataset
        Coordinates: the axes. Variables: ``generator_rate``, ``spectral_radius``,
        ``regime`` (int8 codes; ``flag_values`` / ``flag_meanings`` attributes, -1 where
        undetermined), ``dominant_real``, ``dominant_imag``; for ``"simulate"`` also
        ``measured_rate``, ``measured_real``, ``measured_imag``, ``measured_regime``,
        ``status`` (:class:`kernelgda.status.Status` codes: completed, diverged or
        skipped), ``num_taken`` and ``truncation_bound``. Attributes: the method, every
        fixed parameter (the update rule as ``mode``), the tolerances and the package
        version.

    Notes
    -----
    Isolated model for ``"simulate"``: one true point at 0 with weight ``p`` and ``n``
    generated points on it with weight ``q`` each (``d = 1``), started at ``f*`` with
    the points displaced by ``e0``. Cells without a fixed point (``lam = 0`` with
    ``delta != 0``, ``p = 0``, Newton failing on a scenario) are ``"skipped"``.

    Examples
    --------
    >>> import numpy as np
    >>> ds = phase_diagram({"sigma": np.geomspace(0.1, 1, 4), "lam": [0.0, 0.5]},
    ...                    {"eta_d": 0.1, "eta_g": 0.1})
    >>> ds.generator_rate.shape, str(ds.regime.sel(sigma=1.0, lam=0.0).attrs["flag_meanings"].split()[5])
    ((4, 2), 'cycling')
    """
    tol = V.scalar(tol, "tol", positive=True)
    measure_tol = V.scalar(measure_tol, "measure_tol", positive=True)
    coords, values, scenario, shape, params = setup_grid(axes, fixed, method, scenario)
    num = math.prod(shape)

    if scenario is None:
        pred = predict_isolated(params, num, tol)
        groups, group_of = [], None
    else:
        groups = fixed_points(scenario, params, num)
        group_of = np.empty(num, dtype=int)
        for g, (_, idx) in enumerate(groups):
            group_of[idx] = g
        pred = predict_scenario(scenario, params, num, tol, groups)

    data = {"generator_rate": pred["generator_rate"], "spectral_radius": pred["spectral_radius"],
            "regime": pred["regime"], "dominant_real": pred["dominant"].real,
            "dominant_imag": pred["dominant"].imag, "runner_up_rate": pred["runner_up"]}
    attrs = {"method": method, "tol": tol, "prediction": "isolated" if scenario is None else "linearize"}
    if method == "simulate":
        num_steps = V.integer(num_steps, "num_steps", minimum=1)
        chunk_size = V.integer(chunk_size, "chunk_size", minimum=1)
        seed = V.integer(seed, "seed", minimum=0)
        if history_tol is not None:
            history_tol = V.scalar(history_tol, "history_tol", positive=True)
            if history_tol >= 1:
                raise ValueError(f"history_tol must be in (0, 1), got {history_tol}")
        if scenario is None:
            delta = np.asarray(params["p"] - params["n"] * params["q"])
            runnable = np.broadcast_to(((params["lam"] > 0) | (delta == 0)) & (params["p"] > 0), (num,))
        else:
            lam = np.broadcast_to(params["lam"], (num,))
            runnable = np.array([groups[g][0].eq is not None and (lam[c] > 0 or groups[g][0].perfect_match)
                                 for c, g in enumerate(group_of)], dtype=bool)
        setup = SimulationSetup(params=params, num=num, num_steps=num_steps, history_tol=history_tol,
                                measure_tol=measure_tol, seed=seed, scenario=scenario, groups=groups,
                                group_of=group_of)
        workers = min(2, os.cpu_count() or 1) if workers is None else V.integer(workers, "workers", minimum=1)
        data.update(simulate_cells(setup, np.asarray(runnable), chunk_size, completed, on_chunk, workers))
        attrs.update(num_steps=num_steps, measure_tol=measure_tol, e0_scale=E0_SCALE, seed=seed,
                     history_tol=-1.0 if history_tol is None else history_tol, chunk_size=chunk_size)
    return build_dataset(coords, shape, data, values, attrs, scenario)
