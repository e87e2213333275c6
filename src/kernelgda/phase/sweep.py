"""A phase sweep as a plan of independent blocks: validation, memory estimate and one block's work.

:func:`plan_sweep` checks every argument of :func:`kernelgda.phase_diagram` and estimates
the memory the sweep needs *before* anything is computed or written
(:mod:`kernelgda.resources`). The grid is cut into rectangular blocks of at most
``chunk_size`` cells (:func:`block_shape`); :func:`compute_block` evaluates one of them
(prediction, and for ``"simulate"`` the runs and their measurement). A block is the unit
of scheduling (one task, :mod:`kernelgda.phase.run`) and of storage (one chunk of every
variable of ``phase.zarr``, :mod:`kernelgda.phase.store`).

Blocks run the swept parameters that set a simulated cell's history window (``lam``,
``eta_d``, theory section 2) and its update rule along their *short* side and the other
axes along their long side, so the cells simulated together have similar windows; ``n``
is one value per block (:func:`kernelgda.simulate_batch` needs one shape). Linearized
blocks are short along the kernel parameters instead (:func:`block_shape`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import _validate as V
from .. import resources
from ..check import E0_SCALE, MEASURED_TOL
from ..regimes import DEFAULT_TOL
from .grid import setup_grid
from .predict import predict_isolated, predict_scenario
from .simulate import CHUNK_SIZE, HISTORY_TOL, simulate_cells

__all__ = ["Sweep", "plan_sweep", "block_shape", "compute_block", "kernel_scenarios", "check_cells",
           "DEFAULT_CHUNK", "PREDICTED", "SIMULATED"]

#: Default cells per block by method: the closed forms are a few array expressions per
#: block, the scenario's Jacobians one small eigensolve per cell, a simulation a batch.
DEFAULT_CHUNK = {"theory": 2**16, "linearize": 4096, "simulate": CHUNK_SIZE}
#: Variables of every phase dataset and their dtypes.
PREDICTED = {"generator_rate": "f8", "spectral_radius": "f8", "regime": "i1", "dominant_real": "f8",
             "dominant_imag": "f8", "runner_up_rate": "f8"}
#: Variables added by ``method="simulate"``.
SIMULATED = {"measured_rate": "f8", "measured_real": "f8", "measured_imag": "f8", "measured_regime": "i1",
             "status": "i1", "num_taken": "i4", "truncation_bound": "f8"}
#: Swept parameters that set a simulated cell's history window or its rule: the short side.
_WINDOW = ("lam", "eta_d", "d_steps", "mode", "beta", "n")
#: Working float64 values per cell while a block is evaluated (closed forms, eigensolves).
_WORK_PER_CELL = 64
#: Copies of the trajectory a simulated block holds at once (the run, the deviation, its square).
_TRAJECTORY_COPIES = 3


def block_shape(shape, names, chunk_size: int, method: str) -> tuple:
    """The block of at most ``chunk_size`` cells. Simulated: long along the axes not in the
    window set, short along ``lam``, ``eta_d`` and the rule (module docstring), ``n`` one
    value. Linearized: short along the kernel parameters (``sigma``, ``alpha``), so a block
    holds few fixed points, each with many cells (one stacked eigensolve per fixed point).

    >>> block_shape((64, 64), ("sigma", "lam"), 512, "simulate")
    (64, 8)
    >>> block_shape((10, 3), ("lam", "mode"), 4, "simulate")
    (4, 1)
    >>> block_shape((200, 200), ("sigma", "lam"), 4096, "linearize")
    (20, 200)
    """
    short = _WINDOW if method == "simulate" else ("sigma", "alpha") if method == "linearize" else ()
    order = [i for i, nm in enumerate(names) if nm not in short]
    order += [i for nm in short for i, name in enumerate(names) if name == nm]
    out = [1] * len(shape)
    room = chunk_size
    for i in order:
        if names[i] == "n" or (names[i] == "mode" and method == "simulate"):
            continue
        out[i] = max(1, min(shape[i], room))
        room = max(1, room // out[i])
    return tuple(out)


@dataclass
class Sweep:
    """A validated sweep: the grid, the settings and the block layout (picklable: it is sent
    to the workers of a cluster). ``kernels`` holds the scenario's fixed points by kernel
    parameters once :func:`kernel_fixed_points` has filled it."""

    coords: dict
    values: dict
    method: str
    scenario: object
    shape: tuple
    block: tuple
    tol: float
    measure_tol: float = MEASURED_TOL
    num_steps: int = 0
    history_tol: float | None = HISTORY_TOL
    seed: int = 0
    chunk_size: int = 0
    kernels: dict = field(default_factory=dict)

    @property
    def num_cells(self) -> int:
        return math.prod(self.shape)

    @property
    def grid(self) -> tuple:
        """Blocks along each axis."""
        return tuple(-(-n // b) for n, b in zip(self.shape, self.block, strict=True))

    @property
    def num_blocks(self) -> int:
        return math.prod(self.grid)

    @property
    def variables(self) -> dict:
        return {**PREDICTED, **SIMULATED} if self.method == "simulate" else dict(PREDICTED)

    def slices(self, index: int) -> tuple:
        """The grid slices of block ``index`` (C order over :attr:`grid`)."""
        pos = np.unravel_index(index, self.grid)
        return tuple(slice(int(p) * b, min((int(p) + 1) * b, n))
                     for p, b, n in zip(pos, self.block, self.shape, strict=True))

    def attrs(self) -> dict:
        """The dataset attributes of the settings."""
        out = {"method": self.method, "tol": self.tol,
               "prediction": "isolated" if self.scenario is None else "linearize"}
        if self.method == "simulate":
            out.update(num_steps=self.num_steps, measure_tol=self.measure_tol, e0_scale=E0_SCALE,
                       seed=self.seed, history_tol=-1.0 if self.history_tol is None else self.history_tol,
                       chunk_size=self.chunk_size)
        return out

    def block_params(self, index: int):
        """Every parameter of block ``index`` as a flat array over its cells (C order) or a
        scalar; returns ``(params, block shape)``."""
        sl = self.slices(index)
        sub = [vals[s] for vals, s in zip(self.coords.values(), sl, strict=True)]
        grids = np.meshgrid(*sub, indexing="ij")
        params = dict(self.values)
        for name, grid in zip(self.coords, grids, strict=True):
            params[name] = grid.ravel()
        return params, tuple(len(s) for s in sub)

    def memory(self) -> dict:
        """Estimated bytes: ``"result"`` (the whole dataset in memory) and ``"block"`` (one
        block being evaluated)."""
        cells = math.prod(self.block)
        per_block = cells * _WORK_PER_CELL * resources.ITEMSIZE
        if self.method == "simulate":
            n = int(max(np.atleast_1d(self.coords.get("n", self.values.get("n", 1)))))
            if self.scenario is not None:
                n, d = np.shape(self.scenario.y0)
            else:
                d = 1
            per_block += _TRAJECTORY_COPIES * resources.trajectory_bytes(self.num_steps, cells * n, d)
        return {"result": resources.grid_bytes(self.num_cells, len(self.variables)), "block": per_block}


def _kernel_key(params, i):
    return tuple(float(params[k][i] if isinstance(params[k], np.ndarray) else params[k])
                 for k in ("sigma", "alpha") if k in params)


def kernel_scenarios(sweep: Sweep) -> list:
    """``[(key, scenario at lam = 1)]`` for every kernel of the grid, keyed by ``(sigma[, alpha])``:
    one fixed point each (theory section 3: it does not depend on ``lam`` or the learning
    rates; :func:`kernelgda.phase.predict.fixed_point`), stored in ``sweep.kernels``."""
    names = [k for k in ("sigma", "alpha") if k in sweep.coords or k in sweep.values]
    if not names:  # a kernel without these parameters: one fixed point
        return [((), sweep.scenario.with_params(lam=1.0))]
    axes = [np.atleast_1d(sweep.coords.get(k, sweep.values.get(k))).astype(float) for k in names]
    out = []
    for combo in np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(names)):
        key = tuple(float(v) for v in combo)
        out.append((key, sweep.scenario.with_params(lam=1.0, **dict(zip(names, key, strict=True)))))
    return out


def _groups(sweep, params, num):
    """``[(FixedPoint, flat cell indices)]`` of the block's kernels, and each cell's group."""
    keys = [_kernel_key(params, i) for i in range(num)]
    index = {}
    group_of = np.empty(num, dtype=int)
    for i, key in enumerate(keys):
        group_of[i] = index.setdefault(key, len(index))
    groups = [(sweep.kernels[key], np.nonzero(group_of == g)[0]) for key, g in index.items()]
    return groups, group_of


def compute_block(sweep: Sweep, index: int) -> dict:
    """Evaluate block ``index``: every variable of the dataset as an array of the block's shape."""
    params, shape = sweep.block_params(index)
    num = math.prod(shape)
    if sweep.scenario is None:
        pred = predict_isolated(params, num, sweep.tol)
        fps = None
    else:
        groups, group_of = _groups(sweep, params, num)
        pred = predict_scenario(sweep.scenario, params, num, sweep.tol, groups)
        fps = [groups[g][0] for g in group_of]
    data = {"generator_rate": pred["generator_rate"], "spectral_radius": pred["spectral_radius"],
            "regime": pred["regime"], "dominant_real": pred["dominant"].real,
            "dominant_imag": pred["dominant"].imag, "runner_up_rate": pred["runner_up"]}
    if sweep.method == "simulate":
        if fps is None:
            delta = np.asarray(params["p"] - params["n"] * params["q"])
            runnable = np.broadcast_to(((params["lam"] > 0) | (delta == 0)) & (params["p"] > 0), (num,))
        else:
            lam = np.broadcast_to(params["lam"], (num,))
            runnable = np.array([fp.eq is not None and (lam[c] > 0 or fp.perfect_match)
                                 for c, fp in enumerate(fps)], dtype=bool)
        data.update(simulate_cells(params, num, np.asarray(runnable), sweep, fps))
    return {name: np.asarray(data[name]).astype(dtype).reshape(shape)
            for name, dtype in sweep.variables.items()}


def check_cells(cells, method: str, *, max_memory=None, directory=".") -> None:
    """Refuse a grid of ``cells`` whose dataset would not fit in memory, from the count alone
    (a caller that builds the axes from a description checks before building them)."""
    limit = resources.default_limit() if max_memory is None else resources.parse_size(max_memory)
    _grid_check(cells, len(PREDICTED) + (len(SIMULATED) if method == "simulate" else 0), limit, directory)


def _grid_check(cells, nvars, limit, directory):
    """The whole dataset in memory; one that would fit on disk is pointed at the Zarr store."""
    nbytes = resources.grid_bytes(cells, nvars)
    free = resources.disk_free(directory)
    hint = "use fewer cells"
    if free is not None and nbytes <= free // 2:
        hint += (f", or --format zarr / store= (written block by block to disk, "
                 f"{resources.format_size(free)} free)")
    resources.check_bytes(nbytes, "phase grid", limit=limit, hint=hint,
                          detail=f"{resources.format_count(cells)} cells x {nvars} variables")


def _memory_check(sweep, limit, in_memory, directory):
    mem = sweep.memory()
    cells = math.prod(sweep.block)
    if sweep.method == "simulate":
        per_cell = max(mem["block"] / cells, 1.0)
        fit = int(limit // per_cell)
        if 1 <= fit < cells:
            hint = f"use a --chunk-size of at most {fit} or fewer --steps"
        else:
            steps = max(0, int(limit / (per_cell / (sweep.num_steps + 1) * cells)) - 1)
            hint = f"use at most {resources.format_count(steps)} --steps with this --chunk-size"
        resources.check_bytes(mem["block"], "one simulated block", limit=limit, hint=hint,
                              detail=f"{cells} cells x {resources.format_count(sweep.num_steps + 1)} "
                              "recorded steps")
    else:
        fit = max(1, int(limit // (_WORK_PER_CELL * resources.ITEMSIZE)))
        resources.check_bytes(mem["block"], "one block", limit=limit,
                              hint=f"use a --chunk-size of at most {resources.format_count(fit)}",
                              detail=f"{cells} cells x {_WORK_PER_CELL} working values")
    if in_memory:
        _grid_check(sweep.num_cells, len(sweep.variables), limit, directory)
    else:
        free = resources.disk_free(directory)
        if free is not None and mem["result"] > free:
            raise ValueError(f"phase grid: needs {resources.format_size(mem['result'])} on disk, "
                             f"{resources.format_size(free)} free under {directory}; use fewer cells")


def plan_sweep(axes, fixed=None, *, method: str = "theory", scenario=None, num_steps: int = 1000,
               tol: float = DEFAULT_TOL, measure_tol: float = MEASURED_TOL,
               history_tol: float | None = HISTORY_TOL, seed: int = 0, chunk_size: int | None = None,
               max_memory=None, in_memory: bool = True, directory=".") -> Sweep:
    """Check every argument of :func:`kernelgda.phase_diagram` and the memory it needs; no
    fixed point is computed and nothing is written.

    Raises ``ValueError`` (one line) for bad input, and when the estimate of
    :meth:`Sweep.memory` exceeds ``max_memory`` (bytes or a size such as ``"4G"``; default
    :func:`kernelgda.resources.default_limit`): the whole dataset when ``in_memory``, one
    block otherwise (then the dataset must fit on the disk under ``directory``).

    Examples
    --------
    >>> sw = plan_sweep({"sigma": [0.1, 0.2, 0.3], "lam": [1.0, 2.0]}, {"eta_d": 0.1, "eta_g": 0.1})
    >>> sw.shape, sw.block, sw.num_blocks
    ((3, 2), (3, 2), 1)
    """
    tol = V.scalar(tol, "tol", positive=True)
    measure_tol = V.scalar(measure_tol, "measure_tol", positive=True)
    num_steps = V.integer(num_steps, "num_steps", minimum=1)
    seed = V.integer(seed, "seed", minimum=0)
    if history_tol is not None:
        history_tol = V.scalar(history_tol, "history_tol", positive=True)
        if history_tol >= 1:
            raise ValueError(f"history_tol must be in (0, 1), got {history_tol}")
    V.choice(method, "method", tuple(DEFAULT_CHUNK))
    chunk_size = DEFAULT_CHUNK[method] if chunk_size is None else V.integer(chunk_size, "chunk_size",
                                                                             minimum=1)
    limit = resources.default_limit() if max_memory is None else resources.parse_size(max_memory)
    for name, vals in (axes.items() if hasattr(axes, "items") else ()):
        resources.check_bytes(resources.ITEMSIZE * (1 if isinstance(vals, str) else np.size(vals)),
                              f"axis {name!r}", limit=limit, hint="use fewer values")
    if hasattr(axes, "values") and all(np.ndim(v) == 1 for v in axes.values()):
        cells = math.prod(np.size(v) for v in axes.values())
        if in_memory:
            _grid_check(cells, len(PREDICTED) + (len(SIMULATED) if method == "simulate" else 0), limit,
                        directory)
    coords, values, scenario, shape = setup_grid(axes, fixed, method, scenario)
    sweep = Sweep(coords=coords, values=values, method=method, scenario=scenario, shape=shape,
                  block=block_shape(shape, tuple(coords), chunk_size, method), tol=tol,
                  measure_tol=measure_tol, num_steps=num_steps, history_tol=history_tol, seed=seed,
                  chunk_size=chunk_size)
    _memory_check(sweep, limit, in_memory, directory)
    return sweep
