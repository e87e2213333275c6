"""The universal regime diagram of alternating GDA (theory section 7, item 3).

For one generated point on one true point with matched mass (``delta = 0``) the
alternating pair has ``tr = 2 - a - c`` and ``det = 1 - a`` (theory section 5), so its
regime depends only on ``a = eta_d lam`` and ``c = eta_d eta_g n q^2 / sigma^2``:

    monotone      c < (1 - sqrt(1 - a))^2
    oscillatory   (1 - sqrt(1 - a))^2 < c < (1 + sqrt(1 - a))^2
    flipping      (1 + sqrt(1 - a))^2 < c < 2 (2 - a)
    divergent     c > 2 (2 - a)
    lam = 0       cycling for c < 4, divergent above

The left panel is that diagram from the closed forms; the middle one is *measured*:
each cell is an exact simulation whose learning rate ``eta_d``, bandwidth ``sigma``
and weight ``p = q`` are drawn at random (seeded) and then ``lam = a / eta_d`` and
``eta_g = c sigma^2 / (eta_d q^2)`` put it at the cell's ``(a, c)``; the dominant
eigenvalue is fitted to the run started at ``(f*, y* + e0)``, ``|e0| = 1e-9 sigma``,
and labelled with the rules of theory section 6. That the measured diagram matches
the theory although every cell has different raw parameters is the universality.
The right panel is the error of the measured rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import isolated
from ..check import check_rates
from ..equilibrium import find_equilibrium
from ..game import GDA, KernelGAN
from ..kernels import Gaussian
from ..regimes import DEFAULT_TOL, REGIMES, boundary_distance, runner_up
from ._base import Result, no_progress

NAME = "regime-diagram"
DESCRIPTION = ("Universal regime diagram of alternating GDA in the plane (eta_d lam, c), "
               "closed form next to the one measured by exact simulation (theory section 7.3)")


@dataclass(frozen=True)
class Config:
    """Settings of the regime diagram.

    Attributes
    ----------
    c_range : (float, float)
        Range of ``c`` (log axis); ``a = eta_d lam`` spans ``[0, 1]``.
    num_theory : int
        Cells per axis of the closed-form diagram.
    num_a, num_c : int
        Cells per axis of the measured diagram.
    num_steps : int
        Length of each exact run.
    rel_e0 : float
        ``|e0| / sigma``; low enough that a fast divergence spans six decades before
        the fit's linear limit ``1e-3 sigma``, high enough for 1.7 decades of decay above
        the rounding floor ``1e5 eps``.
    eta_d_range, sigma_range, q_range : (float, float)
        Ranges of the random raw parameters of each measured cell (log-uniform).
    boundary_margin : float
        Cells whose closed-form boundary distance (:func:`closed_form_boundary`) is below
        this count as near a boundary.
    seed : int
    """

    c_range: tuple = (1e-3, 8.0)
    num_theory: int = 500
    num_a: int = 48
    num_c: int = 48
    num_steps: int = 1000
    rel_e0: float = 1e-9
    eta_d_range: tuple = (0.05, 1.0)
    sigma_range: tuple = (0.3, 3.0)
    q_range: tuple = (0.5, 2.0)
    boundary_margin: float = 1e-3
    seed: int = 7


QUICK = Config(num_theory=200, num_a=10, num_c=10, num_steps=400)


def closed_form_boundary(ev: isolated.IsolatedEigenvalues) -> np.ndarray:
    """Distance of the closed-form dominant root to the label boundaries (theory section 6)
    and to the modulus of the other root of the pair
    (:func:`kernelgda.regimes.boundary_distance` at tolerance ``DEFAULT_TOL``): zero on every
    boundary of the diagram (the unit circle and the double roots at the edges of the
    complex band)."""
    return boundary_distance(ev.dominant, DEFAULT_TOL, runner_up=runner_up(ev.rho_c, ev.dominant))


def _log_uniform(rng, lo_hi, size):
    lo, hi = np.log(lo_hi[0]), np.log(lo_hi[1])
    return np.exp(rng.uniform(lo, hi, size=size))


def compute(config: Config = Config(), *, progress=no_progress) -> Result:
    """Closed-form and measured diagrams (module docstring)."""
    # Closed form on a fine grid: eta_d = 1, sigma = q = 1, so lam = a and eta_g = c.
    a_t = np.linspace(0.0, 1.0, config.num_theory)
    c_t = np.geomspace(*config.c_range, config.num_theory)
    ev_t = isolated.eigenvalues(eta_d=1.0, eta_g=c_t[None, :], lam=a_t[:, None], sigma=1.0)

    # Measured: one random raw parameter set per cell, mapped to the cell's (a, c).
    a = np.linspace(0.0, 1.0, config.num_a)
    c = np.geomspace(*config.c_range, config.num_c)
    aa, cc = np.meshgrid(a, c, indexing="ij")
    rng = np.random.default_rng(config.seed)
    shape = aa.shape
    eta_d = _log_uniform(rng, config.eta_d_range, shape)
    sigma = _log_uniform(rng, config.sigma_range, shape)
    q = _log_uniform(rng, config.q_range, shape)
    lam = aa / eta_d
    eta_g = cc * sigma**2 / (eta_d * q**2)
    ev = isolated.eigenvalues(p=q, q=q, n=1, eta_d=eta_d, eta_g=eta_g, lam=lam, sigma=sigma)

    measured = np.full(shape, complex(np.nan, np.nan))
    meas_code = np.full(shape, -1, dtype=np.int8)
    cells = list(np.ndindex(shape))
    chunk = max(1, len(cells) // 8)
    chunks = [cells[i:i + chunk] for i in range(0, len(cells), chunk)]
    for part in progress(chunks, total=len(chunks), desc=NAME):
        gans, gdas, starts, e0 = [], [], [], []
        for idx in part:
            gan = KernelGAN([[0.0]], q[idx], Gaussian(sigma=sigma[idx]), lam=lam[idx])
            gans.append(gan)
            gdas.append(GDA(eta_d[idx], eta_g[idx], "alternating"))
            starts.append(find_equilibrium(gan, [[0.0]], q[idx]))
            e0.append([[config.rel_e0 * sigma[idx]]])
        # perturb, run, fit and label as kernelgda.check_rate (labels at the prediction's tol)
        res = check_rates(gans, gdas, starts, config.num_steps, e0=np.array(e0), tol=DEFAULT_TOL)
        for k, idx in enumerate(part):
            measured[idx] = res.dominant[k]
            meas_code[idx] = res.regime[k]

    pred_code = ev.regime_code
    err = np.abs(np.abs(measured) - ev.generator_rate)
    bnd = closed_form_boundary(ev)
    away = bnd > config.boundary_margin
    agree = meas_code == pred_code
    dims_t, dims = ("a_theory", "c_theory"), ("a", "c")
    data = {
        "theory_regime": (dims_t, ev_t.regime_code),
        "theory_rate": (dims_t, ev_t.generator_rate),
        "predicted_regime": (dims, pred_code), "measured_regime": (dims, meas_code),
        "predicted": (dims, ev.dominant), "measured": (dims, measured),
        "rate_error": (dims, err), "boundary": (dims, bnd),
        "eta_d": (dims, eta_d), "sigma": (dims, sigma), "q": (dims, q), "lam": (dims, lam),
        "eta_g": (dims, eta_g),
    }
    coords = {"a_theory": a_t, "c_theory": c_t, "a": a, "c": c}
    table = []
    for i, regime in enumerate(REGIMES):
        sel = pred_code == i
        if not sel.any():
            continue
        table.append({
            "predicted regime": regime, "cells": int(sel.sum()),
            "measured agrees": f"{int(agree[sel].sum())}/{int(sel.sum())}",
            "agrees away from boundary": f"{int(agree[sel & away].sum())}/{int((sel & away).sum())}",
            "median |rate error|": float(np.nanmedian(err[sel])),
            "max |rate error|": float(np.nanmax(err[sel])) if np.isfinite(err[sel]).any() else np.nan,
        })
    summary = {
        "cells": int(pred_code.size), "agreement": float(agree.mean()),
        "agreement_away": float(agree[away].mean()) if away.any() else float("nan"),
        "near_boundary": int((~away).sum()),
        "max_rate_error": float(np.nanmax(err)), "median_rate_error": float(np.nanmedian(err)),
        "unmeasured": int(np.isnan(measured).sum()),
    }
    caption = (
        "Regime of alternating GDA with matched mass (delta = 0) in the plane (eta_d lam, c = "
        "eta_d eta_g n q^2 / sigma^2). (a) Closed form (theory section 5), with the boundaries "
        "c = (1 -+ sqrt(1 - eta_d lam))^2 and c = 2 (2 - eta_d lam); at lam = 0 (left edge) the pair "
        "cycles for c < 4. (b) Measured from exact runs, each cell with its own random eta_d, "
        f"sigma and q: the regime of the fitted dominant eigenvalue agrees in "
        f"{100 * summary['agreement']:.1f}% of the {summary['cells']} cells "
        f"({100 * summary['agreement_away']:.1f}% away from boundaries); crosses mark "
        "disagreements. (c) |measured - predicted| rate (largest "
        f"{summary['max_rate_error']:.1e}).")
    return Result(NAME, config, data, coords, table, summary, caption)


def _boundaries(ax, c_range):
    a = np.linspace(0.0, 1.0, 400)
    lo, hi, div = isolated.regime_boundaries_c(a)
    for curve in (lo, hi, div):
        ax.plot(a, curve, color="k", lw=0.8)
    ax.plot([0, 0], [c_range[0], 4.0], color=_cycling_color(), lw=3.0, clip_on=False,
            solid_capstyle="butt", zorder=5)


def _cycling_color():
    from ..plotting import REGIME_COLORS

    return REGIME_COLORS["cycling"]


def plot(result: Result):
    """(a) closed-form diagram, (b) measured diagram, (c) rate error."""
    import matplotlib.colors as mcolors

    from ..plotting import SYMBOLS, new_figure, panel_label, regime_cmap, regime_handles, style

    cfg = result.config
    cmap, norm = regime_cmap()
    a_t, c_t = result["a_theory"], result["c_theory"]
    a, c = result["a"], result["c"]
    with style():
        fig, axes = new_figure(1, 3, width=6.8, height=2.6, sharey=True)
        ax0, ax1, ax2 = axes
        ax0.pcolormesh(a_t, c_t, result["theory_regime"].T, cmap=cmap, norm=norm, shading="nearest",
                       rasterized=True)
        ax1.pcolormesh(a, c, result["measured_regime"].T, cmap=cmap, norm=norm, shading="nearest",
                       rasterized=True)
        bad = result["measured_regime"] != result["predicted_regime"]
        ia, ic = np.nonzero(bad)
        ax1.plot(a[ia], c[ic], ls="", marker="x", color="k", ms=3.5, mew=0.8)
        err = np.clip(result["rate_error"], 1e-16, None)
        mesh = ax2.pcolormesh(a, c, err.T, norm=mcolors.LogNorm(1e-16, max(1e-3, float(np.nanmax(err)))),
                              cmap="cividis", shading="nearest", rasterized=True)
        cbar = fig.colorbar(mesh, ax=ax2, pad=0.02)
        cbar.set_label(r"$|\,|z|_{\rm measured} - |z|_{\rm predicted}|$")
        for ax, title in zip(axes, ("closed form", "measured (exact dynamics)", "rate error"), strict=True):
            _boundaries(ax, cfg.c_range)
            ax.set_yscale("log")
            ax.set_xlim(0, 1)
            ax.set_ylim(*cfg.c_range)
            ax.set_xlabel(SYMBOLS["a"])
            ax.set_title(title)
        ax0.set_ylabel(r"$c = \eta_d \eta_g n q^2 / \sigma^2$")
        for text, (x, y) in {"monotone": (0.72, 0.012), "oscillatory": (0.3, 0.3),
                             "divergent": (0.5, 5.0)}.items():
            ax0.text(x, y, text, ha="center", va="center", fontsize=6.5, color="white",
                     fontweight="bold")
        ax0.annotate("flipping", xy=(0.9, 1.75), xytext=(0.55, 0.75), ha="center", va="center",
                     fontsize=6.5, color="white", fontweight="bold",
                     arrowprops=dict(arrowstyle="-|>", color="white", lw=0.8))
        for ax, letter in zip(axes, "abc", strict=True):
            panel_label(ax, letter)
        handles = regime_handles(["monotone", "oscillatory", "flipping", "cycling", "divergent"])
        fig.legend(handles=handles, loc="outside lower center", ncols=5, frameon=False)
    return fig
