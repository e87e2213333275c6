"""Phase diagrams: predicted and measured regimes over parameter grids (theory sections 5-7).

:func:`phase_diagram` evaluates a grid of 1, 2 or 3 swept parameters by one of three
methods and returns an ``xarray.Dataset`` with one coordinate per axis:

- ``"theory"``: the isolated points closed forms of theory sections 5 and 8
  (:func:`kernelgda.isolated.eigenvalues`) as a few broadcast array expressions;
- ``"linearize"``: the general Jacobian of theory section 4 for a scenario, with the
  fixed point computed once per kernel (it does not depend on ``lam`` or the learning
  rates), the blocks of :mod:`kernelgda.linearize` reused with ``H = (lam hess f*) / lam``,
  each rule's step matrix (:func:`kernelgda.rules.step_matrix`; for optimistic and
  momentum on the augmented state, the visible block being the ``e`` block of the first
  copy, as :func:`kernelgda.linearize`) and the eigenvalues of all cells from stacked
  ``numpy.linalg.eig`` calls;
- ``"simulate"``: the exact dynamics of every cell (:func:`kernelgda.simulate_batch`,
  chunks of cells advanced together) started at ``(f*, Y* + e0)`` with
  ``|e0| = 1e-6 sigma`` (one seeded unit direction), and the dominant eigenvalue
  *measured* from each trajectory (:mod:`kernelgda.measure`, theory section 7,
  experiment 1), next to the prediction (``theory`` for the isolated model, ``linearize``
  for a scenario).

Every update rule of theory section 8 works with every method: ``mode``, ``beta`` and
``d_steps`` are fixed parameters or axes; in a grid whose ``mode`` varies, ``beta`` acts on
the momentum cells and ``d_steps`` on the alternating ones only (given for a grid without
such cells, they are an error).

Labels follow theory section 6. Predicted labels use ``tol`` (default 1e-6, far above
the rounding of a closed form or a small eigensolve). Measured labels use
``measure_tol`` (default 1e-3): a fitted eigenvalue is only as good as the run's linear
window, and in a 1000-step run a modulus within 1e-3 of 1 cannot be told from 1. A run
whose error passes ``1e-3 sigma`` (leaves the linear regime) too fast for a fit is
labelled divergent with a ``nan`` rate. The measurement keeps the modes that carry
signal (:mod:`kernelgda.measure`), so a dominant mode that ``e0`` hardly excites can be
missed (for example optimistic GDA's spurious root ``z ~ mu`` when it dominates: the start
``z_-1 = z_0`` gives it an amplitude of order ``mu^2``). :func:`compare` counts agreement
between measured and predicted labels, away from and near the label boundaries.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from . import _validate as V
from . import isolated
from .batch import simulate_batch
from .equilibrium import MMD_TOL, Equilibrium, find_equilibrium
from .game import GDA, MODES, KernelGAN
from .kernels import Gaussian
from .linearize import VISIBLE_TOL, _blocks, discriminator_mode, dominant_eigenvalue
from .regimes import DEFAULT_TOL, REGIMES, classify_codes
from .rules import step_matrix
from .status import Status

__all__ = ["phase_diagram", "check_grid", "compare", "Comparison", "closed_form_boundaries",
           "boundary_distance", "pair_boundaries", "runner_up", "METHODS",
           "ISOLATED_PARAMS", "SCENARIO_PARAMS", "MEASURE_TOL", "DEFAULT_MARGIN", "STATUS",
           "E0_SCALE"]

METHODS = ("theory", "linearize", "simulate")
#: Parameters of the isolated points model (any of them can be an axis).
ISOLATED_PARAMS = ("p", "q", "n", "eta_d", "eta_g", "lam", "sigma", "mode", "beta", "d_steps")
ISOLATED_DEFAULTS = {"p": 1.0, "q": 1.0, "n": 1, "mode": "alternating"}
#: Parameters of a scenario that a sweep can change (``Scenario.with_params``).
SCENARIO_PARAMS = ("sigma", "alpha", "lam", "eta_d", "eta_g", "mode", "d_steps", "beta")
#: Rule options and the update rule each applies to (theory section 8): in a grid whose
#: ``mode`` varies, ``beta`` acts on the momentum cells and ``d_steps`` on the alternating ones.
RULE_OPTIONS = {"beta": "momentum", "d_steps": "alternating"}
#: Tolerance of measured labels: the accuracy of a fitted modulus in a 1000-step run.
MEASURE_TOL = 1e-3
#: :func:`compare`: a cell is near a boundary when its predicted dominant eigenvalue is
#: within this distance of a classification boundary (see :func:`compare`).
DEFAULT_MARGIN = 5e-4
#: Size of the initial perturbation, in units of sigma (theory section 7).
E0_SCALE = 1e-6
#: History truncation of simulated sweeps (kernelgda.discriminator): the gradient error
#: stays below 1e-15 of the expansion's total mass times the largest kernel gradient. The
#: truncated dynamics have a fixed point shifted by about that error; at 1e-12 the shift sat
#: above the measurement's noise floor and a converging optimistic cell measured |z| = 0.9997
#: instead of 0.9534 (the run settles on the shifted point, which the fit reads as an
#: eigenvalue 1). 1e-15 keeps the shift below rounding at the cost of ~25% more history.
HISTORY_TOL = 1e-15
#: A run whose error ``|Y^k - Y*|`` exceeds this many sigma has left the linear regime
#: (theory section 7); one that does so too fast to fit an eigenvalue is labelled divergent.
LINEAR_LIMIT = 1e-3
#: Cells per simulated chunk (the unit of progress and of ``completed`` / ``on_chunk``).
CHUNK_SIZE = 512
#: Status codes of simulated cells.
STATUS = ("completed", "diverged", "skipped")

_OPTIONS = ("mode", "beta", "d_steps")  # scalar options of isolated.eigenvalues: looped over
_INTEGER = ("n", "d_steps")
_POSITIVE = ("q", "n", "eta_d", "eta_g", "sigma", "alpha", "d_steps")
_NONNEGATIVE = ("p", "lam")


# -- parameters ------------------------------------------------------------------------------

def _check_value(name, value, where):
    """Validate one value of parameter ``name``; returns str, int or float."""
    if name == "mode":
        if value not in MODES:
            raise ValueError(f"{where} must be one of {', '.join(MODES)}; got {value!r}")
        return str(value)
    if name in _INTEGER:
        return V.integer(value, where, minimum=1)
    out = V.scalar(value, where, positive=name in _POSITIVE, nonnegative=name in _NONNEGATIVE)
    if name == "beta" and not -1 < out < 1:
        raise ValueError(f"{where} must be in (-1, 1), got {out}")
    return out


def _axis_values(name, values):
    where = f"axes[{name!r}]"
    if isinstance(values, str):
        values = [values]
    arr = np.asarray(values, dtype=object if name == "mode" else float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{where} must be a non-empty 1-d list of values, got shape {arr.shape}")
    if name != "mode" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{where} must contain only finite numbers (no NaN or inf)")
    checked = [_check_value(name, v, where) for v in arr.tolist()]
    if name == "mode":
        return np.array(checked, dtype=str)
    return np.array(checked, dtype=int if name in _INTEGER else float)


def _parse(axes, fixed, valid, defaults):
    if not isinstance(axes, Mapping) or not 1 <= len(axes) <= 3:
        raise ValueError("axes must be a dict of 1, 2 or 3 parameter names to value lists, "
                         f"e.g. {{'sigma': [...], 'lam': [...]}}; valid names: {', '.join(valid)}")
    fixed = {} if fixed is None else dict(fixed)
    for what, names in (("axis", axes), ("fixed parameter", fixed)):
        unknown = [k for k in names if k not in valid]
        if unknown:
            raise ValueError(f"unknown {what} {', '.join(map(repr, unknown))}; valid names: "
                             f"{', '.join(valid)}")
    both = sorted(set(axes) & set(fixed))
    if both:
        raise ValueError(f"{', '.join(both)} given both as an axis and as a fixed parameter")
    coords = {name: _axis_values(name, vals) for name, vals in axes.items()}
    values = dict(defaults)
    values.update({name: _check_value(name, v, f"fixed[{name!r}]") for name, v in fixed.items()})
    for name in coords:
        values.pop(name, None)
    return coords, values


def _cell_params(coords, values):
    """Every parameter as a flat ``(N,)`` array over the grid cells (C order) or a scalar."""
    shape = tuple(len(v) for v in coords.values())
    grids = np.meshgrid(*coords.values(), indexing="ij") if coords else []
    out = dict(values)
    for name, grid in zip(coords, grids, strict=True):
        out[name] = grid.ravel()
    return shape, out


def _at(value, idx):
    return value[idx] if isinstance(value, np.ndarray) else value


def _gdas(params, cells, num):
    """The :class:`~kernelgda.GDA` of each cell in ``cells`` (flat indices); ``beta`` and
    ``d_steps`` act only on the cells of their rule (:data:`RULE_OPTIONS`)."""
    def get(name, default):
        return np.broadcast_to(np.asarray(params.get(name, default)), (num,))[cells]

    out = []
    for ed, eg, md, beta, steps in zip(get("eta_d", 0), get("eta_g", 0), get("mode", "alternating"),
                                       get("beta", 0.0), get("d_steps", 1), strict=True):
        md = str(md)
        out.append(GDA(float(ed), float(eg), mode=md, beta=float(beta) if md == "momentum" else 0.0,
                       d_steps=int(steps) if md == "alternating" else 1))
    return out


def _check_rule_options(coords, values, given):
    """``beta`` / ``d_steps`` given (axis or fixed) need a cell of their rule; values that only
    come from a scenario are dropped where no cell uses them."""
    modes = set(np.atleast_1d(coords.get("mode", values.get("mode", "alternating"))).tolist())
    for name, rule in RULE_OPTIONS.items():
        if rule in modes:
            continue
        if name in given:
            raise ValueError(f"{name} applies to mode='{rule}' only; this grid has mode "
                             f"{', '.join(map(repr, sorted(modes)))}")
        values.pop(name, None)


# -- predictions -------------------------------------------------------------------------------

def _empty(num):
    return {"generator_rate": np.full(num, np.nan), "spectral_radius": np.full(num, np.nan),
            "dominant": np.full(num, complex(np.nan, np.nan)), "regime": np.full(num, -1, np.int8),
            "runner_up": np.full(num, np.nan)}


def runner_up(candidates, z):
    """Largest modulus among ``candidates (..., K)`` other than ``z (...)`` and its conjugate.

    Eigenvalues within ``1e-9 max(1, |z|)`` of ``z`` or ``conj(z)`` count as the same mode
    (a conjugate partner, or a copy from the ``d`` dimensions); ``nan`` when none is left.
    """
    cand = np.asarray(candidates, dtype=complex)
    z = np.asarray(z, dtype=complex)[..., None]
    eps = 1e-9 * np.maximum(1.0, np.abs(z))
    with np.errstate(invalid="ignore"):
        other = (np.abs(cand - z) > eps) & (np.abs(cand - np.conj(z)) > eps) & np.isfinite(cand)
        mods = np.where(other, np.abs(cand), -np.inf).max(axis=-1)
    return np.where(np.isfinite(mods), mods, np.nan)


def _option_groups(params, num):
    """Cells grouped by the scalar options (mode, beta, d_steps): ``[(options, index)]``."""
    keys = [name for name in _OPTIONS if isinstance(params.get(name), np.ndarray)]
    if not keys:
        return [({k: params[k] for k in _OPTIONS if k in params}, slice(None))]
    combo = np.stack([params[k].astype(str) for k in keys], axis=1)
    uniq, inverse = np.unique(combo, axis=0, return_inverse=True)
    groups = []
    for g in range(len(uniq)):
        idx = np.nonzero(inverse.ravel() == g)[0]
        opts = {k: params[k] for k in _OPTIONS if k in params and k not in keys}
        opts.update({k: params[k][idx[0]] for k in keys})
        groups.append((opts, idx))
    return groups


def _predict_isolated(params, num, tol):
    out = _empty(num)
    numeric = {k: params[k] for k in ("p", "q", "n", "eta_d", "eta_g", "lam", "sigma")}
    for opts, idx in _option_groups(params, num):
        mode = str(opts.get("mode", "alternating"))
        extra = {k: opts[k] for k, rule in RULE_OPTIONS.items() if k in opts and rule == mode}
        res = isolated.eigenvalues(**{k: _at(v, idx) for k, v in numeric.items()},
                                   mode=mode, tol=tol, **extra)
        out["generator_rate"][idx] = res.generator_rate
        out["spectral_radius"][idx] = res.spectral_radius
        out["dominant"][idx] = res.dominant
        out["regime"][idx] = res.regime_code
        pair = np.asarray(res.rho_c, dtype=complex)
        spread = np.asarray(res.rho_b, dtype=complex)
        if spread.ndim < pair.ndim:
            spread = spread[..., None]
        spread = np.broadcast_to(spread, pair.shape[:-1] + spread.shape[-1:])
        out["runner_up"][idx] = runner_up(np.concatenate([pair, spread], axis=-1), res.dominant)
    return out


def _kernel_groups(scenario, params, num):
    """Cells grouped by kernel parameters: ``[(scenario at lam = 1 with that kernel, index)]``."""
    names = [k for k in ("sigma", "alpha") if k in params]
    if not any(isinstance(params[k], np.ndarray) for k in names):
        return [(scenario.with_params(lam=1.0, **{k: params[k] for k in names}), np.arange(num))]
    combo = np.stack([np.broadcast_to(params[k], (num,)) for k in names], axis=1)
    uniq, inverse = np.unique(combo, axis=0, return_inverse=True)
    return [(scenario.with_params(lam=1.0, **dict(zip(names, row.tolist(), strict=True))),
             np.nonzero(inverse.ravel() == g)[0]) for g, row in enumerate(uniq)]


@dataclass
class _FixedPoint:
    """One kernel group's fixed point: ``Y*``, ``lam hess f*`` blocks, and whether ``lam = 0`` is allowed."""

    eq: Equilibrium | None
    gan: KernelGAN
    blocks: dict = field(default_factory=dict)
    perfect_match: bool = False
    message: str = ""


def _fixed_point(sc):
    gan = sc.gan  # lam = 1: the fixed point does not depend on lam (theory section 3)
    eq = find_equilibrium(gan, sc.y0, sc.q)
    if not eq.converged:
        return _FixedPoint(None, gan, message=eq.message)
    blocks = {}
    if gan.kernel.smooth:
        _, _, blocks = _blocks(gan, eq.y, eq.q)  # H = hess f* at lam = 1, i.e. lam hess f*
    match = gan.mmd2(eq.y, eq.q) <= MMD_TOL * gan.p_true.sum() ** 2
    return _FixedPoint(eq, gan, blocks, match, eq.message)


def _predict_scenario(scenario, params, num, tol, groups):
    out = _empty(num)
    base = scenario.params()
    for fp, idx in groups:
        if fp.eq is None or not fp.blocks:
            continue
        lam = np.broadcast_to(params.get("lam", base["lam"]), (num,))[idx]
        ok = (lam > 0) | fp.perfect_match  # lam = 0 needs a perfect match (theory section 3)
        cells = idx[ok]
        if cells.size == 0:
            continue
        mats, gdas = [], []
        for lam_c, gda in zip(lam[ok], _gdas(params, cells, num), strict=True):
            h = fp.blocks["H"] / lam_c if lam_c > 0 else np.zeros_like(fp.blocks["H"])
            # optimistic / momentum: the augmented state (z_k, z_k-1) or (z, D v); the visible
            # block is the e-block of the first copy (as kernelgda.linearize)
            mats.append(step_matrix(lam_c, gda.eta_d, gda.eta_g, {**fp.blocks, "H": h}, gda.mode,
                                    beta=gda.beta, d_steps=gda.d_steps))
            gdas.append(gda)
        size_b = fp.blocks["C"].shape[0]
        size = size_b + fp.blocks["C"].shape[1]
        by_shape = {}
        for j, mat in enumerate(mats):
            by_shape.setdefault(mat.shape, []).append(j)
        for members in by_shape.values():
            ev, vecs = np.linalg.eig(np.stack([mats[j] for j in members]))
            visible = np.linalg.norm(vecs[:, size_b:size, :], axis=1) > VISIBLE_TOL
            for row, j in enumerate(members):
                dom = dominant_eigenvalue(ev[row], visible[row])
                cell = cells[j]
                out["dominant"][cell] = dom
                out["generator_rate"][cell] = abs(dom)
                out["spectral_radius"][cell] = max(np.abs(ev[row]).max(),
                                                   discriminator_mode(lam[ok][j], gdas[j]))
                out["runner_up"][cell] = runner_up(ev[row][visible[row]], dom)
    out["regime"] = classify_codes(out["dominant"], tol)
    return out


# -- simulation --------------------------------------------------------------------------------

@dataclass
class _SimSetup:
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


def _simulate_chunk(cells, setup):
    """Run and measure the cells ``cells`` (flat indices) together; returns the chunk's arrays."""
    par = setup.params
    num = len(cells)

    def get(name, default=None):
        value = par.get(name, default)
        return value[cells] if isinstance(value, np.ndarray) else np.full(num, value)

    lam = get("lam")
    gdas = _gdas(par, cells, setup.num)
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
    y_star = np.stack([eq.y for eq in eqs])
    sigma = np.array([g.kernel.sigma for g in gans])
    direction = np.random.default_rng(setup.seed).standard_normal(y_star.shape[1:])
    direction /= np.linalg.norm(direction)  # the same unit direction for every cell of this shape
    y0 = y_star + E0_SCALE * sigma[:, None, None] * direction
    runs = simulate_batch(gans, gdas, y0, np.stack([eq.q for eq in eqs]), setup.num_steps, start=eqs,
                          history_tol=setup.history_tol)
    meas = runs.measure(y_star)
    with np.errstate(invalid="ignore"):
        size = np.sqrt(np.nanmax(((runs.y - y_star[:, None]) ** 2).sum(axis=(2, 3)), axis=1))
    return {"cells": np.asarray(cells, dtype=np.int64), "fingerprint": _fingerprint(cells, setup),
            "escaped": (size > LINEAR_LIMIT * sigma).astype(np.int8),
            "measured_real": meas.dominant.real, "measured_imag": meas.dominant.imag,
            "status": np.where(runs.status == Status.DIVERGED, 1, 0).astype(np.int8),
            "num_taken": runs.num_taken.astype(np.int64),
            "truncation_bound": runs.truncation_bound}


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
            finish(i, _simulate_chunk(chunks[i], setup))
        return chunks, results
    # Chunks are independent; NumPy releases the GIL in the array operations that take the
    # time, so threads use several cores. Results are reported in chunk order.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [(i, pool.submit(_simulate_chunk, chunks[i], setup)) for i in todo]
        try:
            for i, fut in futures:
                finish(i, fut.result())
        finally:
            for _, fut in futures:
                fut.cancel()
    return chunks, results


def _setup(axes, fixed, method, scenario):
    """Validate the grid arguments; returns ``(coords, fixed values, scenario, shape, cell params)``."""
    V.choice(method, "method", METHODS)
    if scenario is not None and not all(hasattr(scenario, a) for a in ("with_params", "params", "gan")):
        raise ValueError(f"scenario must be a Scenario from kernelgda.scenario.load_scenario, "
                         f"got {type(scenario).__name__}")
    if method == "theory" and scenario is not None:
        raise ValueError("method='theory' is the isolated closed form and takes no scenario; "
                         "use method='linearize' for a scenario")
    if method == "linearize" and scenario is None:
        raise ValueError("method='linearize' needs a scenario (kernelgda.scenario.load_scenario)")
    if scenario is None:
        coords, values = _parse(axes, fixed, ISOLATED_PARAMS, ISOLATED_DEFAULTS)
        missing = [k for k in ("eta_d", "eta_g", "lam", "sigma") if k not in coords and k not in values]
        if missing:
            raise ValueError(f"missing parameter(s) {', '.join(missing)}: give each as an axis or in "
                             "fixed (the isolated model needs eta_d, eta_g, lam and sigma)")
    else:
        coords, values = _parse(axes, fixed, SCENARIO_PARAMS, {})
        if "alpha" in {**coords, **values} and scenario.gan.kernel.name != "rational_quadratic":
            raise ValueError(f"alpha applies only to the rational_quadratic kernel; this scenario's "
                             f"kernel is {scenario.gan.kernel.name!r}")
        # the rule options stay per cell (a mode axis may hold rules the scenario's beta or
        # d_steps do not apply to); the rest is applied to the scenario and validated there
        rule = {k: values.pop(k) for k in ("mode", *RULE_OPTIONS) if k in values}
        if values:
            scenario = scenario.with_params(**values)
        base = scenario.params()
        values = {k: base[k] for k in SCENARIO_PARAMS if k in base and k not in coords}
        values.update(rule)
    _check_rule_options(coords, values, set(coords) | set(fixed or {}))
    shape, params = _cell_params(coords, values)
    return coords, values, scenario, shape, params


def check_grid(axes, fixed=None, *, method: str = "theory", scenario=None) -> tuple:
    """Validate the grid arguments of :func:`phase_diagram` without computing; returns the grid shape.

    Raises the same ``ValueError`` as :func:`phase_diagram` would (unknown names,
    empty or non-finite values, values out of range, a missing parameter).

    Examples
    --------
    >>> check_grid({"sigma": [0.1, 0.2], "lam": [1.0]}, {"eta_d": 0.1, "eta_g": 0.1})
    (2, 1)
    """
    return _setup(axes, fixed, method, scenario)[3]


# -- the front door ------------------------------------------------------------------------------

def phase_diagram(axes, fixed=None, *, method: str = "theory", scenario=None, num_steps: int = 1000,
                  tol: float = DEFAULT_TOL, measure_tol: float = MEASURE_TOL,
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
        Tolerance of measured labels (module docstring).
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
        ``status`` (:data:`STATUS`), ``num_taken`` and ``truncation_bound``. Attributes:
        the method, every fixed parameter (the update rule as ``gda_mode``), the
        tolerances and the package version.

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
    coords, values, scenario, shape, params = _setup(axes, fixed, method, scenario)
    num = math.prod(shape)

    if scenario is None:
        pred = _predict_isolated(params, num, tol)
        groups, group_of = [], None
    else:
        groups = [(_fixed_point(sc), idx) for sc, idx in _kernel_groups(scenario, params, num)]
        group_of = np.empty(num, dtype=int)
        for g, (_, idx) in enumerate(groups):
            group_of[idx] = g
        pred = _predict_scenario(scenario, params, num, tol, groups)

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
        setup = _SimSetup(params=params, num=num, num_steps=num_steps, history_tol=history_tol,
                          measure_tol=measure_tol, seed=seed, scenario=scenario, groups=groups,
                          group_of=group_of)
        workers = min(2, os.cpu_count() or 1) if workers is None else V.integer(workers, "workers", minimum=1)
        data.update(_simulated(setup, np.asarray(runnable), chunk_size, completed, on_chunk, workers))
        attrs.update(num_steps=num_steps, measure_tol=measure_tol, e0_scale=E0_SCALE, seed=seed,
                     history_tol=-1.0 if history_tol is None else history_tol, chunk_size=chunk_size)
    return _dataset(coords, shape, data, values, attrs, scenario)


def _simulated(setup, runnable, chunk_size, completed, on_chunk, workers):
    num = setup.num
    measured = np.full(num, complex(np.nan, np.nan))
    status = np.full(num, 2, dtype=np.int8)
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
            "measured_regime": np.where(np.isnan(measured.real) & escaped, REGIMES.index("divergent"),
                                        classify_codes(measured, setup.measure_tol)).astype(np.int8),
            "status": status, "num_taken": taken, "truncation_bound": bound}


# -- the dataset ---------------------------------------------------------------------------------

_REGIME_ATTRS = {"flag_values": np.arange(-1, len(REGIMES), dtype=np.int8),
                 "flag_meanings": " ".join(("undetermined",) + REGIMES),
                 "description": "regime label code (theory section 6); -1: undetermined"}


def _axis_scale(values) -> str:
    """``"log"`` for three or more positive values in geometric progression, else ``"linear"``."""
    if values.dtype.kind not in "fi" or len(values) < 3 or np.any(values <= 0):
        return "linear"
    steps = np.diff(np.log(values.astype(float)))
    return "log" if np.allclose(steps, steps[0], rtol=1e-6, atol=0) and steps[0] != 0 else "linear"


def _attr(value):
    if isinstance(value, np.generic):
        value = value.item()
    return int(value) if isinstance(value, bool) else value


def _dataset(coords, shape, data, values, attrs, scenario):
    import json

    import xarray as xr

    from . import __version__

    dims = tuple(coords)
    variables = {}
    for name, arr in data.items():
        arr = np.asarray(arr).reshape(shape)
        if arr.dtype == np.int64:
            arr = arr.astype(np.int32)  # netCDF3 has no 64-bit integers
        variables[name] = (dims, arr)
    ds = xr.Dataset(variables, coords={name: (name, vals, {"scale": _axis_scale(vals)})
                                       for name, vals in coords.items()})
    descriptions = {
        "generator_rate": "predicted generator-visible rate |z| (theory section 4)",
        "spectral_radius": "predicted spectral radius, discriminator modes included",
        "dominant_real": "real part of the predicted dominant eigenvalue z",
        "dominant_imag": "imaginary part (>= 0) of the predicted dominant eigenvalue z",
        "runner_up_rate": "largest modulus among the other generator-visible eigenvalues (not z, conj z)",
        "measured_rate": "modulus of the dominant eigenvalue fitted to the simulated run",
        "measured_real": "real part of the measured dominant eigenvalue",
        "measured_imag": "imaginary part of the measured dominant eigenvalue",
        "num_taken": "steps taken by the simulated run",
        "truncation_bound": "certified bound on the discriminator-gradient error from history truncation",
    }
    for name, text in descriptions.items():
        if name in ds:
            ds[name].attrs["description"] = text
    ds["regime"].attrs.update(_REGIME_ATTRS, tol=attrs["tol"])
    if "measured_regime" in ds:
        ds["measured_regime"].attrs.update(_REGIME_ATTRS, tol=attrs["measure_tol"])
        ds["status"].attrs.update(flag_values=np.arange(len(STATUS), dtype=np.int8),
                                  flag_meanings=" ".join(STATUS))
    ds.attrs.update({k: _attr(v) for k, v in attrs.items()})
    ds.attrs["axes"] = " ".join(dims)
    ds.attrs["kernelgda_version"] = __version__
    # the scipy netCDF writer keeps global attributes as Python attributes of its file object,
    # where `mode` is taken: the update rule is stored as `gda_mode`
    ds.attrs.update({("gda_mode" if k == "mode" else k): _attr(v) for k, v in values.items()})
    if scenario is not None:
        ds.attrs["scenario"] = scenario.name
        ds.attrs["kernel"] = scenario.gan.kernel.name
        ds.attrs["scenario_source"] = json.dumps(scenario.source, default=str, sort_keys=True)
    return ds


# -- agreement of measured and predicted regimes -----------------------------------------------

@dataclass(frozen=True, eq=False)
class Comparison:
    """Agreement of measured with predicted regimes (see :func:`compare`).

    Attributes
    ----------
    num_cells, num_away, num_near : int
        Compared cells (predicted label defined and the cell simulated), and how many
        of them are away from / near a boundary.
    agree_away, agree_near : float
        Fraction of those cells whose measured label equals the predicted one
        (``nan`` for none).
    num_converging : int
        Compared cells predicted to converge (monotone, oscillatory or flipping) with
        a measured rate.
    rate_error_median, rate_error_max : float
        Median and largest ``|measured rate - predicted rate|`` over those cells.
    rate_error_max_away : float
        Largest rate error over the converging cells away from a boundary.
    margin, tol : float
        Boundary margin and the labels' tolerance.
    confusion : dict
        ``confusion[predicted][measured]`` cell counts.
    near, agree : bool arrays
        Per cell (grid shape): near a boundary; measured label equals predicted.
    """

    num_cells: int
    num_away: int
    num_near: int
    agree_away: float
    agree_near: float
    num_converging: int
    rate_error_median: float
    rate_error_max: float
    rate_error_max_away: float
    margin: float
    tol: float
    confusion: dict
    near: np.ndarray = field(repr=False)
    agree: np.ndarray = field(repr=False)

    def as_dict(self) -> dict:
        """The scalars and the confusion table, for JSON (``nan`` as ``None``)."""
        def clean(v):
            return None if isinstance(v, float) and not math.isfinite(v) else v
        return {k: clean(getattr(self, k)) for k in (
            "num_cells", "num_away", "num_near", "agree_away", "agree_near", "num_converging",
            "rate_error_median", "rate_error_max", "rate_error_max_away", "margin", "tol")} | {
            "confusion": self.confusion}

    def table(self) -> str:
        """A short plain-text agreement table."""
        lines = [f"cells compared: {self.num_cells} ({self.num_away} away from a boundary, "
                 f"{self.num_near} near one; margin {self.margin:g}, label tolerance {self.tol:g})",
                 f"agreement away from boundaries: {self.agree_away:.4f}",
                 f"agreement near boundaries:      {self.agree_near:.4f}",
                 f"rate error over {self.num_converging} converging cells: median "
                 f"{self.rate_error_median:.3g}, max {self.rate_error_max:.3g} "
                 f"(max away from boundaries {self.rate_error_max_away:.3g})",
                 "predicted -> measured counts:"]
        for pred, row in self.confusion.items():
            lines.append(f"  {pred:>12}: " + ", ".join(f"{m} {c}" for m, c in row.items()))
        return "\n".join(lines)


def boundary_distance(z, tol):
    """Distance of eigenvalues ``z`` to the label boundaries of theory section 6 at tolerance ``tol``.

    ``min(| |z| - (1 - tol) |, | |z| - (1 + tol) |, | |Im z| - tol |, |Re z| if |Im z| <= tol)``:
    the circles that separate converging, neutral/cycling and divergent, the lines
    ``|Im z| = tol`` that separate real from complex, and for real ``z`` the point 0
    that separates monotone from flipping.
    """
    z = np.asarray(z, dtype=complex)
    r, im = np.abs(z), np.abs(z.imag)
    with np.errstate(invalid="ignore"):
        real_gap = np.where(im <= tol, np.abs(z.real), np.inf)
        return np.minimum.reduce([np.abs(r - (1 - tol)), np.abs(r - (1 + tol)), np.abs(im - tol),
                                  real_gap])


def compare(predicted, measured=None, *, margin: float = DEFAULT_MARGIN) -> Comparison:
    """Compare measured regimes and rates with predicted ones, cell by cell.

    Parameters
    ----------
    predicted : xarray.Dataset
        From :func:`phase_diagram` (any method): ``dominant_real``, ``dominant_imag``,
        ``generator_rate``.
    measured : xarray.Dataset, optional
        From :func:`phase_diagram` with ``method="simulate"`` on the same grid;
        default ``predicted`` itself (a simulated dataset holds both).
    margin : float
        Boundary margin (below).

    Returns
    -------
    Comparison

    Notes
    -----
    Both labels use the measurement's tolerance ``tol = measure_tol``: the predicted
    dominant eigenvalue ``z`` is relabelled with it. A cell is *near a boundary* when
    (i) :func:`boundary_distance` of ``z`` is at most ``margin`` (``|z|`` within
    ``margin`` of ``1 +- tol``, ``|Im z|`` within ``margin`` of ``tol``, or ``z`` real
    within ``margin`` of 0), or (ii) another generator-visible eigenvalue has a modulus
    within ``margin`` of ``|z|`` (``runner_up_rate``: which mode dominates, and so the
    label, is then decided by less than the margin). The default margin
    :data:`DEFAULT_MARGIN` ``= 5e-4`` is half the measured-label tolerance (so a neutral
    or cycling ``|z| = 1`` is away from the boundaries ``1 +- 1e-3``) and far above the
    accuracy of a fitted modulus in the linear regime (about 1e-9 in the tests). Cells
    with an undetermined prediction or a skipped simulation are not compared. Rate
    errors are over cells predicted to converge with a finite measured rate.

    Examples
    --------
    >>> ds = phase_diagram({"lam": [0.5, 1.0]}, {"eta_d": 0.1, "eta_g": 0.1, "sigma": 1.0},
    ...                    method="simulate", num_steps=300)
    >>> res = compare(ds)
    >>> res.num_cells, res.agree_away, bool(res.rate_error_max < 1e-6)
    (2, 1.0, True)
    """
    measured = predicted if measured is None else measured
    for ds, need, what in ((predicted, ("dominant_real", "dominant_imag", "generator_rate", "runner_up_rate"),
                            "predicted"),
                           (measured, ("measured_regime", "measured_rate", "status"), "measured")):
        missing = [v for v in need if v not in getattr(ds, "data_vars", {})]
        if missing:
            raise ValueError(f"{what} must be a phase_diagram dataset with {', '.join(need)} "
                             f"(method='simulate' for measured); missing {', '.join(missing)}")
    if predicted.regime.dims != measured.measured_regime.dims or any(
            not np.array_equal(predicted[d].values, measured[d].values) for d in predicted.regime.dims):
        raise ValueError("predicted and measured must be on the same grid (same axes and values)")
    margin = V.scalar(margin, "margin", nonnegative=True)
    tol = float(measured.attrs.get("measure_tol", MEASURE_TOL))
    z = predicted.dominant_real.values + 1j * predicted.dominant_imag.values
    pcode = classify_codes(z, tol)
    mcode = measured.measured_regime.values
    valid = (pcode >= 0) & (measured.status.values != STATUS.index("skipped"))
    with np.errstate(invalid="ignore"):
        gap = predicted.generator_rate.values - predicted.runner_up_rate.values
    near = (boundary_distance(z, tol) <= margin) | (gap <= margin)
    agree = pcode == mcode
    away = valid & ~near
    close = valid & near

    def frac(mask):
        return float(agree[mask].mean()) if mask.any() else float("nan")

    rate_m = measured.measured_rate.values
    conv = valid & (pcode >= 0) & (pcode <= 2) & np.isfinite(rate_m)
    err = np.abs(rate_m - predicted.generator_rate.values)
    labels = ("undetermined",) + REGIMES
    confusion = {}
    for pc, mc in zip(pcode[valid].tolist(), mcode[valid].tolist(), strict=True):
        row = confusion.setdefault(labels[pc + 1], {})
        row[labels[mc + 1]] = row.get(labels[mc + 1], 0) + 1

    def stat(fn, mask):
        return float(fn(err[mask])) if mask.any() else float("nan")

    return Comparison(
        num_cells=int(valid.sum()), num_away=int(away.sum()), num_near=int(close.sum()),
        agree_away=frac(away), agree_near=frac(close), num_converging=int(conv.sum()),
        rate_error_median=stat(np.median, conv), rate_error_max=stat(np.max, conv),
        rate_error_max_away=stat(np.max, conv & ~near), margin=margin, tol=tol,
        confusion=confusion, near=near & valid, agree=agree)


# -- closed-form boundaries for plots --------------------------------------------------------------

def pair_boundaries(*, p, q, n, eta_d, eta_g, lam):
    """Bandwidths at which the alternating coupled pair changes regime, for each ``lam``.

    With ``u = 1 / sigma^2`` the pair of theory section 5 has ``c = C0 u`` and
    ``kappa = K0 u`` (``C0 = eta_d eta_g n q^2``, ``K0 = eta_g q delta / lam``). Its roots
    are complex where ``tr^2 < 4 det``, i.e. between the roots in ``u`` of

        (K0 + C0)^2 u^2 - (2 (2 - a) (K0 + C0) - 4 (1 - a) K0) u + a^2 = 0,

    and it diverges through ``-1`` where ``c > (2 - a)(2 - kappa)``
    (:func:`kernelgda.isolated.divergence_threshold`), i.e. for
    ``sigma^2 < (C0 + (2 - a) K0) / (2 (2 - a))``. At ``delta = 0`` the band is
    :func:`kernelgda.isolated.best_sigma_window` and the line
    :func:`kernelgda.isolated.divergence_sigma`.

    Returns
    -------
    band_low, band_high, divergence : arrays like ``lam``
        Edges of the complex-pair band and the divergence line in ``sigma``
        (``nan`` where there is none).
    """
    lam = np.asarray(lam, dtype=float)
    a = eta_d * lam
    c0 = eta_d * eta_g * n * q**2
    with np.errstate(invalid="ignore", divide="ignore"):
        k0 = np.where(lam > 0, eta_g * q * (p - n * q) / np.where(lam > 0, lam, 1.0),
                      0.0 if p == n * q else np.nan)
        quad_a = (k0 + c0) ** 2
        quad_b = -2 * (2 - a) * (k0 + c0) + 4 * (1 - a) * k0
        root = np.sqrt(quad_b**2 - 4 * quad_a * a**2)
        u_hi = (-quad_b + root) / (2 * quad_a)
        u_lo = (-quad_b - root) / (2 * quad_a)
        band_low = np.where(u_hi > 0, 1 / np.sqrt(u_hi), np.nan)
        band_high = np.where(u_lo > 0, 1 / np.sqrt(u_lo), np.where(u_hi > 0, np.inf, np.nan))
        s2 = (c0 + (2 - a) * k0) / (2 * (2 - a))
        divergence = np.where((a < 2) & (s2 > 0), np.sqrt(s2), np.nan)
    return band_low, band_high, divergence


def closed_form_boundaries(ds, num: int = 400):
    """Closed-form boundaries of theory section 5 over a ``(sigma, lam)`` isolated diagram.

    Alternating GDA (``d_steps = 1``, fixed learning rates and weights): the edges of
    the complex-pair band and the divergence line of :func:`pair_boundaries`; at
    ``delta = p - n q = 0`` also the best regularization ``eta_d lam* = 1 - (1 - sqrt c)^2``
    for ``c = eta_d eta_g n q^2 / sigma^2 < 1`` (:func:`kernelgda.isolated.best_lam`), and
    the band is then the window of bandwidths reaching the best rate ``sqrt(1 - eta_d lam)``
    (:func:`kernelgda.isolated.best_sigma_window`).

    Returns
    -------
    (dict or None, str)
        Curves ``{"lam", "band_low", "band_high", "divergence", "sigma", "best_lam"}``
        (arrays over a fine grid spanning the axes; ``best_lam`` only at ``delta = 0``)
        and a note; ``None`` with the reason when the diagram is not of that kind.
    """
    dims = tuple(ds.regime.dims)
    at = ds.attrs
    if at.get("prediction") != "isolated" or set(dims) != {"sigma", "lam"}:
        return None, "closed-form boundaries are drawn for isolated (sigma, lam) diagrams only"
    if at.get("gda_mode", "alternating") != "alternating" or at.get("d_steps", 1) != 1:
        return None, "closed-form boundaries are those of alternating GDA (d_steps = 1)"
    if not all(k in at for k in ("eta_d", "eta_g", "p", "q", "n")):
        return None, "closed-form boundaries need fixed eta_d, eta_g, p, q and n"
    p, q, n, eta_d, eta_g = (float(at[k]) for k in ("p", "q", "n", "eta_d", "eta_g"))

    def fine(name):
        values = ds[name].values.astype(float)
        lo, hi = float(values.min()), float(values.max())
        if ds[name].attrs.get("scale") == "log":
            return np.geomspace(lo, hi, num)
        return np.linspace(lo, hi, num)

    lam, sigma = fine("lam"), fine("sigma")
    band_low, band_high, divergence = pair_boundaries(p=p, q=q, n=n, eta_d=eta_d, eta_g=eta_g, lam=lam)
    curves = {"lam": lam, "band_low": band_low, "band_high": band_high, "divergence": divergence,
              "sigma": sigma}
    if p != n * q:
        return curves, (f"complex-pair band and divergence line of theory section 5 (alternating, "
                        f"delta = {p - n * q:g}); best lam and best-sigma window exist at delta = 0 only")
    with np.errstate(invalid="ignore"):
        c = isolated.coupling(q=q, n=n, eta_d=eta_d, eta_g=eta_g, sigma=sigma)
        curves["best_lam"] = isolated.best_lam(c, eta_d)
    return curves, "closed forms of theory section 5 (alternating, delta = 0)"
