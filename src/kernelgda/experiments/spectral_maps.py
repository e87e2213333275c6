"""Spectral-radius maps over bandwidth and regularization (theory section 7, item 2).

The isolated points model (one true point of weight ``p``, ``n`` generated points of
weight ``q``) has closed-form eigenvalues (theory section 5). Over the plane
``sigma x lam`` and for each discriminator learning rate ``eta_d`` (with
``eta_g = mu eta_d``) we map the spectral radius ``rho`` (largest modulus over the
coupled pair, the spread modes and the discriminator modes ``1 - eta_d lam``) and draw,
from the same closed forms:

- the unstable region ``rho > 1`` (its edge is the level set ``rho = 1``);
- the complex-pair band, where the pair's discriminant ``tr^2 - 4 det`` is negative
  (``tr``, ``det`` of theory section 5) and the generated points spiral in;
- the best-``lam`` curve: for each ``sigma`` the ``lam`` that minimises ``rho``
  (for ``delta = 0`` and alternating updates it is ``eta_d lam* = 1 - (1 - sqrt c)^2``);
- the best-``sigma`` window: for each ``lam`` the range of ``sigma`` whose ``rho`` is
  within ``window_tol`` of the smallest over ``sigma``. With ``delta = 0`` and alternating
  updates the whole band ``c_lo <= c <= c_hi`` shares the best rate ``sqrt(1 - eta_d lam)``,
  and the window is ``q sqrt(n eta_d eta_g) / (1 +- sqrt(1 - eta_d lam))`` (theory
  section 5); with ``delta != 0`` the rate varies inside the band and the window shrinks,
  except where ``rho`` is the discriminator mode ``1 - eta_d lam``, which does not depend
  on ``sigma``.

Both curves are read off the grid, so they are exact to one grid step.

The authors' maps use ``p = 1``, ``q = 0.8`` (so ``delta = 0.2``), ``mu = 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import isolated
from ._base import Result, no_progress

NAME = "spectral-maps"
DESCRIPTION = ("Closed-form spectral-radius maps over (sigma, lam) for three eta_d and both update "
               "orders, with the unstable region, complex band and best-lam/best-sigma curves "
               "(theory section 7.2)")


@dataclass(frozen=True)
class Config:
    """Settings of the spectral maps (defaults: the authors' heat maps)."""

    sigma_range: tuple = (0.01, 1.0)
    lam_range: tuple = (0.01, 10.0)
    num_sigma: int = 300
    num_lam: int = 300
    eta_d: tuple = (0.1, 0.01, 0.001)
    mu: float = 1.0
    p: float = 1.0
    q: float = 0.8
    n: int = 1
    modes: tuple = ("alternating", "simultaneous")
    window_tol: float = 1e-9


QUICK = Config(num_sigma=80, num_lam=80)


def trace_det(*, p, q, n, eta_d, eta_g, lam, sigma, mode):
    """``(tr, det)`` of the coupled pair (theory section 5), broadcast; ``lam > 0``."""
    gamma = 1.0 / np.square(sigma)
    a = eta_d * lam
    kappa = eta_g * q * gamma * (p - n * q) / lam
    c = eta_d * eta_g * gamma * n * q**2
    if mode == "alternating":
        return 2 - a - kappa - c, (1 - a) * (1 - kappa)
    return 2 - a - kappa, (1 - a) * (1 - kappa) + c


def compute(config: Config = Config(), *, progress=no_progress) -> Result:
    """Closed-form maps for every ``(mode, eta_d)`` (module docstring)."""
    sigma = np.geomspace(*config.sigma_range, config.num_sigma)
    lam = np.geomspace(*config.lam_range, config.num_lam)
    eta_d = np.asarray(config.eta_d, dtype=float)
    modes = tuple(config.modes)
    # Broadcast to (mode, eta_d, lam, sigma).
    e = eta_d[:, None, None]
    lm = lam[None, :, None]
    sg = sigma[None, None, :]
    rho, disc, code = [], [], []
    for mode in progress(modes, total=len(modes), desc=NAME):
        ev = isolated.eigenvalues(p=config.p, q=config.q, n=config.n, eta_d=e, eta_g=config.mu * e,
                                  lam=lm, sigma=sg, mode=mode)
        tr, det = trace_det(p=config.p, q=config.q, n=config.n, eta_d=e, eta_g=config.mu * e,
                            lam=lm, sigma=sg, mode=mode)
        rho.append(ev.spectral_radius)
        disc.append(tr * tr - 4 * det)
        code.append(ev.regime_code)
    rho = np.stack(rho)
    # Best lam: argmin of rho over lam (ties: the smallest lam); nan where every cell diverges.
    i_lam = np.argmin(rho, axis=2)
    best_lam = np.where(rho.min(axis=2) < 1, lam[i_lam], np.nan)  # (mode, eta_d, sigma)
    # Best-sigma window: first and last sigma within window_tol of the minimum over sigma.
    near = rho <= rho.min(axis=3, keepdims=True) + config.window_tol
    stable = rho.min(axis=3) < 1
    lo = np.where(stable, sigma[np.argmax(near, axis=3)], np.nan)
    hi = np.where(stable, sigma[sigma.size - 1 - np.argmax(near[..., ::-1], axis=3)], np.nan)
    dims = ("mode", "eta_d", "lam", "sigma")
    data = {
        "spectral_radius": (dims, rho), "discriminant": (dims, np.stack(disc)),
        "regime": (dims, np.stack(code)),
        "best_lam": (("mode", "eta_d", "sigma"), best_lam),
        "best_sigma_lo": (("mode", "eta_d", "lam"), lo),
        "best_sigma_hi": (("mode", "eta_d", "lam"), hi),
    }
    coords = {"mode": np.array(modes), "eta_d": eta_d, "lam": lam, "sigma": sigma}
    table, summary = [], {"delta": config.p - config.n * config.q}
    for i, mode in enumerate(modes):
        for j, ed in enumerate(eta_d):
            r = rho[i, j]
            k = np.unravel_index(np.argmin(r), r.shape)
            table.append({
                "mode": mode, "eta_d": float(ed),
                "unstable fraction": float((r > 1).mean()),
                "complex-band fraction": float((data["discriminant"][1][i, j] < 0).mean()),
                "best rho": float(r[k]), "at lam": float(lam[k[0]]), "at sigma": float(sigma[k[1]]),
            })
            summary[f"best_rho_{mode}_{ed:g}"] = float(r[k])
    caption = (
        f"Spectral radius rho of the isolated points model (p = {config.p:g}, q = {config.q:g}, "
        f"n = {config.n}, mu = eta_g/eta_d = {config.mu:g}) over bandwidth sigma and regularization "
        "lam; columns eta_d, rows the update order. Colour: 1 - rho (log scale; faster convergence "
        "is brighter); the unstable region rho > 1 is filled in the divergent colour. Lines from "
        "the closed forms: the complex-pair band (hatched, dashed edge), best lam for each sigma "
        "(solid white) and the window of best sigma for each lam (between the dotted white "
        "lines). The mass mismatch delta = p - n q = "
        f"{config.p - config.n * config.q:g} makes the rate vary inside the band, so the window "
        "narrows to the stability edge except where rho is the discriminator mode 1 - eta_d lam.")
    return Result(NAME, config, data, coords, table, summary, caption)


def _break_jumps(values: np.ndarray, factor: float = 1.5) -> np.ndarray:
    """Insert nothing but blank out a point where a curve jumps by more than ``factor``
    between neighbouring grid cells, so that the jump is not drawn as a line."""
    v = np.array(values, dtype=float)
    ratio = np.abs(np.log(v[1:] / v[:-1]))
    v[1:][ratio > np.log(factor)] = np.nan
    return v


def plot(result: Result):
    """A grid of maps: rows update orders, columns ``eta_d``."""
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    from ..plotting import REGIME_COLORS, SYMBOLS, new_figure, panel_label, style

    sigma, lam = result["sigma"], result["lam"]
    modes, eta_d = result["mode"], result["eta_d"]
    rho = result["spectral_radius"]
    disc = result["discriminant"]
    gap = np.where(rho < 1, 1 - rho, np.nan)
    finite = gap[np.isfinite(gap) & (gap > 0)]
    vmin = max(float(finite.min()), 1e-7) if finite.size else 1e-6
    norm = mcolors.LogNorm(vmin=vmin, vmax=1.0)
    unstable_cmap = mcolors.ListedColormap([REGIME_COLORS["divergent"]])
    with style(), plt.rc_context({"hatch.linewidth": 0.5}):
        fig, axes = new_figure(len(modes), len(eta_d), width=6.8, height=2.05 * len(modes) + 0.5,
                               sharex=True, sharey=True, squeeze=False)
        letters = iter("abcdefghijkl")
        for i, mode in enumerate(modes):
            for j, ed in enumerate(eta_d):
                ax = axes[i, j]
                mesh = ax.pcolormesh(sigma, lam, np.clip(gap[i, j], vmin, None), norm=norm,
                                     cmap="magma", shading="nearest", rasterized=True)
                unstable = np.where(rho[i, j] > 1, 1.0, np.nan)
                ax.pcolormesh(sigma, lam, unstable, cmap=unstable_cmap, shading="nearest",
                              rasterized=True)
                ax.contour(sigma, lam, rho[i, j], levels=[1.0], colors="k", linewidths=0.9)
                band = ax.contourf(sigma, lam, disc[i, j], levels=[-np.inf, 0.0], colors="none",
                                   hatches=["////"])
                band.set_edgecolor((1.0, 1.0, 1.0, 0.45))
                band.set_linewidth(0.0)
                ax.contour(sigma, lam, disc[i, j], levels=[0.0], colors=REGIME_COLORS["oscillatory"],
                           linewidths=1.0, linestyles="--")
                # Optima on the edge of the grid lie beyond it: not drawn.
                best = np.where(result["best_lam"][i, j] < lam[-1], result["best_lam"][i, j], np.nan)
                ax.plot(sigma, _break_jumps(best), color="white", lw=1.1)
                for edge in ("best_sigma_lo", "best_sigma_hi"):
                    v = result[edge][i, j]
                    v = np.where((v > sigma[0]) & (v < sigma[-1]), v, np.nan)
                    ax.plot(_break_jumps(v), lam, color="white", lw=1.4, ls=(0, (1, 1.2)))
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.set_xlim(sigma[0], sigma[-1])
                ax.set_ylim(lam[0], lam[-1])
                ax.set_title(f"{mode}, {SYMBOLS['eta_d']} = {ed:g}")
                if i == len(modes) - 1:
                    ax.set_xlabel(SYMBOLS["sigma"])
                if j == 0:
                    ax.set_ylabel(SYMBOLS["lam"])
                panel_label(ax, next(letters))
        cbar = fig.colorbar(mesh, ax=axes, shrink=0.85, pad=0.02)
        cbar.set_label(r"$1 - \rho$ (convergence per step)")
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        handles = [Patch(facecolor=REGIME_COLORS["divergent"], label=r"unstable, $\rho > 1$"),
                   Patch(facecolor="0.75", edgecolor=REGIME_COLORS["oscillatory"], hatch="////",
                         ls="--", label="complex-pair band"),
                   Line2D([], [], color="0.3", lw=1.1, label=r"best $\lambda$ for each $\sigma$"),
                   Line2D([], [], color="0.3", lw=1.4, ls=(0, (1, 1.2)), label=r"best-$\sigma$ window edges")]
        fig.legend(handles=handles, loc="outside lower center", ncols=4, frameon=False)
    return fig
