"""Parameter grids of a phase diagram: names, values, defaults and the per-cell parameters.

A grid is 1 to 3 swept parameters (``axes``) and fixed values (``fixed``), for the
isolated points model (:data:`ISOLATED_PARAMS`) or for a scenario
(:data:`SCENARIO_PARAMS`). Every update rule of theory section 8 is a value of ``mode``;
in a grid whose ``mode`` varies, ``beta`` acts on the momentum cells and ``d_steps`` on
the alternating ones only (:data:`RULE_OPTIONS`; given for a grid without such cells,
they are an error).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .. import _validate as V
from ..game import GDA, MODES
from ..linearize import require_smooth
from ..rules import OPTION_RULES, check_beta

__all__ = ["check_grid", "setup_grid", "cell_gdas", "value_at", "METHODS", "ISOLATED_PARAMS",
           "ISOLATED_DEFAULTS", "SCENARIO_PARAMS", "RULE_OPTIONS", "OPTIONS"]

METHODS = ("theory", "linearize", "simulate")
#: Parameters of the isolated points model (any of them can be an axis).
ISOLATED_PARAMS = ("p", "q", "n", "eta_d", "eta_g", "lam", "sigma", "mode", "beta", "d_steps")
ISOLATED_DEFAULTS = {"p": 1.0, "q": 1.0, "n": 1, "mode": "alternating"}
#: Parameters of a scenario that a sweep can change (``Scenario.with_params``).
SCENARIO_PARAMS = ("sigma", "alpha", "lam", "eta_d", "eta_g", "mode", "d_steps", "beta")
#: Rule options and the update rule each applies to (theory section 8): in a grid whose
#: ``mode`` varies, ``beta`` acts on the momentum cells and ``d_steps`` on the alternating ones.
RULE_OPTIONS = OPTION_RULES
#: Scalar options of :func:`kernelgda.isolated.eigenvalues`: cells are grouped by them.
OPTIONS = ("mode", "beta", "d_steps")

_INTEGER = ("n", "d_steps")
#: Largest ``n`` or ``d_steps`` of a grid: every integer up to it is exact in float64.
MAX_INTEGER = 2**53
_POSITIVE = ("q", "n", "eta_d", "eta_g", "sigma", "alpha", "d_steps")
_NONNEGATIVE = ("p", "lam")


def _check_value(name, value, where):
    """Validate one value of parameter ``name``; returns str, int or float."""
    if name == "mode":
        if value not in MODES:
            raise ValueError(f"{where} must be one of {', '.join(MODES)}; got {value!r}")
        return str(value)
    if name in _INTEGER:
        value = V.integer(value, where, minimum=1)
        if value > MAX_INTEGER:
            raise ValueError(f"{where} must be at most 2^53 = {MAX_INTEGER:.3g} (exact in float64), "
                             f"got {V.short(value)}")
        return value
    if name == "beta":
        return check_beta(value, where)
    return V.scalar(value, where, positive=name in _POSITIVE, nonnegative=name in _NONNEGATIVE)


def _axis_values(name, values):
    where = f"axes[{name!r}]"
    if isinstance(values, str):
        values = [values]
    arr = np.asarray(values, dtype=object) if name == "mode" else V.reals(values, where)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{where} must be a non-empty 1-d list of values, got shape {arr.shape}")
    if name != "mode" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{where} must contain only finite numbers (no NaN or inf)")
    if name in ("mode", "beta"):  # strings, and beta's rule-dependent check: value by value
        checked = [_check_value(name, v, where) for v in arr.tolist()]
        return np.array(checked, dtype=str if name == "mode" else float)
    # the other parameters vectorized: a long axis never becomes a list of Python numbers
    arr = V.array(arr, where, positive=name in _POSITIVE, nonnegative=name in _NONNEGATIVE)
    if name in _INTEGER:
        if not np.all(arr == np.round(arr)) or np.any(arr < 1) or np.any(arr > MAX_INTEGER):
            bad = arr[(arr != np.round(arr)) | (arr < 1) | (arr > MAX_INTEGER)][0]
            raise ValueError(f"{where} must hold whole numbers from 1 to 2^53 = {MAX_INTEGER:.3g} (exact "
                             f"in float64), got {bad:g}")
        return arr.astype(np.int64)
    return arr


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


def value_at(value, idx):
    """``value[idx]`` for a per-cell array, ``value`` itself for a scalar."""
    return value[idx] if isinstance(value, np.ndarray) else value


def cell_gdas(params, cells, num):
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


def setup_grid(axes, fixed, method, scenario):
    """Validate the grid arguments; returns ``(coords, fixed values, scenario, shape)``."""
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
        if method == "linearize":
            require_smooth(scenario.gan.kernel)
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
    return coords, values, scenario, tuple(len(v) for v in coords.values())


def check_grid(axes, fixed=None, *, method: str = "theory", scenario=None) -> tuple:
    """Validate the grid arguments of :func:`phase_diagram` without computing; returns the grid shape.

    Raises the same ``ValueError`` as :func:`phase_diagram` would (unknown names,
    empty or non-finite values, values out of range, a missing parameter).

    Examples
    --------
    >>> check_grid({"sigma": [0.1, 0.2], "lam": [1.0]}, {"eta_d": 0.1, "eta_g": 0.1})
    (2, 1)
    """
    return setup_grid(axes, fixed, method, scenario)[3]
