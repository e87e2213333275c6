"""Predicted regimes and rates of every cell of a phase diagram (theory sections 4-6 and 8).

Isolated points model: the closed forms (:func:`kernelgda.isolated.eigenvalues`) as a
few broadcast array expressions, one call per combination of the scalar rule options.
Scenario: the fixed point is computed once per kernel (:func:`fixed_point`; it does not
depend on ``lam`` or the learning rates), the blocks of :func:`kernelgda.linearize.reduced_blocks` reused
with ``H = (lam hess f*) / lam``, each rule's step matrix
(:func:`kernelgda.rules.step_matrix`; for optimistic and momentum on the augmented
state, the visible block being the ``e`` block of the first copy, as
:func:`kernelgda.linearize`) and the eigenvalues of all cells from stacked
``numpy.linalg.eig`` calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import isolated
from ..equilibrium import MMD_TOL, Equilibrium, find_equilibrium
from ..game import KernelGAN
from ..linearize import VISIBLE_TOL, discriminator_mode, reduced_blocks
from ..regimes import classify_codes, dominant_eigenvalue, runner_up
from ..rules import step_matrix
from .grid import OPTIONS, RULE_OPTIONS, cell_gdas, value_at

__all__ = ["predict_isolated", "predict_scenario", "fixed_point", "FixedPoint"]


def _empty(num):
    return {"generator_rate": np.full(num, np.nan), "spectral_radius": np.full(num, np.nan),
            "dominant": np.full(num, complex(np.nan, np.nan)), "regime": np.full(num, -1, np.int8),
            "runner_up": np.full(num, np.nan)}


def _option_groups(params, num):
    """Cells grouped by the scalar options (mode, beta, d_steps): ``[(options, index)]``."""
    keys = [name for name in OPTIONS if isinstance(params.get(name), np.ndarray)]
    if not keys:
        return [({k: params[k] for k in OPTIONS if k in params}, slice(None))]
    combo = np.stack([params[k].astype(str) for k in keys], axis=1)
    uniq, inverse = np.unique(combo, axis=0, return_inverse=True)
    groups = []
    for g in range(len(uniq)):
        idx = np.nonzero(inverse.ravel() == g)[0]
        opts = {k: params[k] for k in OPTIONS if k in params and k not in keys}
        opts.update({k: params[k][idx[0]] for k in keys})
        groups.append((opts, idx))
    return groups


def predict_isolated(params, num, tol):
    """Predictions of the isolated closed forms (theory sections 5 and 8) for every cell."""
    out = _empty(num)
    numeric = {k: params[k] for k in ("p", "q", "n", "eta_d", "eta_g", "lam", "sigma")}
    for opts, idx in _option_groups(params, num):
        mode = str(opts.get("mode", "alternating"))
        extra = {k: opts[k] for k, rule in RULE_OPTIONS.items() if k in opts and rule == mode}
        res = isolated.eigenvalues(**{k: value_at(v, idx) for k, v in numeric.items()},
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


@dataclass
class FixedPoint:
    """One kernel group's fixed point: ``Y*``, ``lam hess f*`` blocks, and whether ``lam = 0`` is allowed."""

    eq: Equilibrium | None
    gan: KernelGAN
    blocks: dict = field(default_factory=dict)
    perfect_match: bool = False
    message: str = ""


def fixed_point(sc) -> FixedPoint:
    """The fixed point of scenario ``sc`` (taken at ``lam = 1``) and its ``lam hess f*`` blocks."""
    gan = sc.gan  # lam = 1: the fixed point does not depend on lam (theory section 3)
    eq = find_equilibrium(gan, sc.y0, sc.q)
    if not eq.converged:
        return FixedPoint(None, gan, message=eq.message)
    blocks = {}
    if gan.kernel.smooth:
        _, _, blocks = reduced_blocks(gan, eq.y, eq.q)  # H = hess f* at lam = 1, i.e. lam hess f*
    match = gan.mmd2(eq.y, eq.q) <= MMD_TOL * gan.p_true.sum() ** 2
    return FixedPoint(eq, gan, blocks, match, eq.message)


def predict_scenario(scenario, params, num, tol, groups):
    """Predictions of the general Jacobian (theory sections 4 and 8) for every cell; ``groups``
    one :class:`FixedPoint` per kernel with the cells (flat indices) that use it."""
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
        for lam_c, gda in zip(lam[ok], cell_gdas(params, cells, num), strict=True):
            h = fp.blocks["H"] / lam_c if lam_c > 0 else np.zeros_like(fp.blocks["H"])
            # optimistic / momentum: the augmented state (z_k, z_k-1) or (z, D v); the visible
            # block is the e-block of the first copy (as kernelgda.linearize)
            with np.errstate(over="ignore", invalid="ignore"):  # refused below, in one line
                mat = step_matrix(lam_c, gda.eta_d, gda.eta_g, {**fp.blocks, "H": h}, gda.mode,
                                  beta=gda.beta, d_steps=gda.d_steps)
            if not np.isfinite(mat).all():
                raise ValueError(f"the linearized GDA step overflows float64 in the cell lam = {lam_c:g}, "
                                 f"eta_d = {gda.eta_d:g}, eta_g = {gda.eta_g:g}, mode {gda.mode}, d_steps = "
                                 f"{gda.d_steps}: use smaller learning rates (or fewer discriminator steps)")
            mats.append(mat)
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
