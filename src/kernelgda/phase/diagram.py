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

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..check import MEASURED_TOL
from ..regimes import DEFAULT_TOL
from .dataset import build_dataset
from .run import check_runner, map_tasks
from .simulate import HISTORY_TOL
from .store import FILL, open_store
from .sweep import Sweep, compute_block, plan_sweep

__all__ = ["phase_diagram", "run_sweep"]

_LOG = logging.getLogger("kernelgda.phase")


def phase_diagram(axes, fixed=None, *, method: str = "theory", scenario=None, num_steps: int = 1000,
                  tol: float = DEFAULT_TOL, measure_tol: float = MEASURED_TOL,
                  history_tol: float | None = HISTORY_TOL, seed: int = 0, chunk_size: int | None = None,
                  client=None, store=None, workers: int | None = None, max_memory=None,
                  progress: Callable[[int, int], None] | None = None):
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
        Required by ``"linearize"`` (a smooth kernel); with ``"simulate"`` it replaces the
        isolated model.
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
    chunk_size : int, optional
        Cells per block, the unit of work, of progress and of storage (default
        :data:`kernelgda.phase.sweep.DEFAULT_CHUNK`: 512 simulated cells).
    client : dask.distributed.Client, optional
        Run the blocks on this cluster (:mod:`kernelgda.phase.run`); default: Dask's local
        threaded scheduler in this process. The result does not depend on it.
    store : path, optional
        A Zarr store (:mod:`kernelgda.phase.store`) written block by block as blocks
        finish; an existing store of the same arguments is resumed (its complete blocks
        are not recomputed). The dataset is then returned read lazily from the store, so
        the grid need not fit in memory (one block at a time must). Needs ``zarr``.
    workers : int, optional
        Threads of the local scheduler (default: 2, or 1 on a one-core machine).
    max_memory : int or str, optional
        Memory limit of the estimate checked before anything is computed (default half
        the available memory, :mod:`kernelgda.resources`).
    progress : callable, optional
        ``progress(cells_done, cells_total)`` at the start (cells resumed from ``store``)
        and after each block.

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

    Raises
    ------
    ValueError
        Bad input, or a memory estimate over ``max_memory`` (before anything is computed).

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
    directory = "." if store is None else str(Path(store).resolve().parent)
    sweep = plan_sweep(axes, fixed, method=method, scenario=scenario, num_steps=num_steps, tol=tol,
                       measure_tol=measure_tol, history_tol=history_tol, seed=seed, chunk_size=chunk_size,
                       max_memory=max_memory, in_memory=store is None, directory=directory)
    return run_sweep(sweep, client=client, store=store, workers=workers, progress=progress)


def _template(sweep: Sweep, data):
    return build_dataset(sweep.coords, sweep.shape, data, sweep.values, sweep.attrs(), sweep.scenario)


def run_sweep(sweep: Sweep, *, client=None, store=None, workers: int | None = None,
              progress: Callable[[int, int], None] | None = None, resume: bool = True):
    """Compute a planned sweep (:func:`kernelgda.phase.sweep.plan_sweep`): the scenario's
    fixed points, then every block not already in ``store``, as Dask tasks
    (:func:`kernelgda.phase.run.map_tasks`); arguments as :func:`phase_diagram`."""
    check_runner(client, workers)
    saved = None
    if store is not None:
        import dask.array as da

        lazy = {name: da.full(sweep.shape, FILL[dtype], dtype=dtype, chunks=sweep.block)
                for name, dtype in sweep.variables.items()}
        saved = open_store(store, sweep, _template(sweep, lazy), resume=resume)
        if saved.corrupt:
            _LOG.warning("%s: %d incomplete or damaged block(s) found; recomputing them", store,
                         saved.corrupt)
    try:  # a store stays locked against other runs while this one writes it
        return _compute(sweep, saved, client, workers, progress)
    finally:
        if saved is not None:
            saved.close()


def _compute(sweep, saved, client, workers, progress):
    """The scenario's fixed points, then the blocks not in ``saved``: stored there, or gathered
    into the dataset returned."""
    todo = [i for i in range(sweep.num_blocks) if saved is None or i not in saved.done]
    if sweep.scenario is not None and todo:
        from .sweep import kernel_scenarios

        kernels = {}
        map_tasks(_fixed_point, None, kernel_scenarios(sweep),
                  lambda item, fp: kernels.__setitem__(item[0], fp), client=client, workers=workers,
                  name="phase-fixed-point")
        sweep.kernels = kernels
    data = None if saved is not None else {name: np.full(sweep.shape, FILL[dtype], dtype=dtype)
                                           for name, dtype in sweep.variables.items()}
    done_cells = 0 if saved is None else sum(_cells(sweep, i) for i in saved.done)
    if progress is not None:
        progress(done_cells, sweep.num_cells)

    def on_result(index, arrays):
        nonlocal done_cells
        if saved is not None:
            saved.write(index, arrays)
        else:
            sl = sweep.slices(index)
            for name, arr in arrays.items():
                data[name][sl] = arr
        done_cells += _cells(sweep, index)
        if progress is not None:
            progress(done_cells, sweep.num_cells)

    map_tasks(compute_block, sweep, todo, on_result, client=client, workers=workers, name="phase-block")
    if saved is not None:
        return saved.dataset()
    return _template(sweep, data)


def _cells(sweep, index):
    return int(np.prod([s.stop - s.start for s in sweep.slices(index)]))


def _fixed_point(_, item):
    from .predict import fixed_point

    return fixed_point(item[1])
