"""Which update rule converges fastest, over the (sigma, lam) plane (theory section 8).

At equal learning rates, for an isolated kernel GAN: the rule of
:data:`~kernelgda.experiments._ruleset.RULESET` with the smallest
generator-visible rate in each cell (a categorical map), and by how much it beats
alternating GDA, as the ratio of convergence speeds
``log(rate_best) / log(rate_alternating)`` (steps alternating GDA needs per step of
the best rule; infinite where alternating GDA does not converge). The same map
measured from the exact dynamics of every rule on a coarser grid sits beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._base import Result, no_progress
from ._ruleset import RULE_COLORS, RULESET, measure_rate, theory_rates

NAME = "rule-comparison"
DESCRIPTION = "Fastest update rule over (sigma, lam), predicted and measured (section 8)"
#: Cells whose two best predicted rates differ by less than this are near-ties: the
#: measured winner there depends on 1e-4-level measurement noise and is not compared.
TIE_MARGIN = 2e-3


@dataclass(frozen=True)
class Config:
    """Grid of the theory map, coarse grid of the measured map, weights and learning rates."""

    p: float = 1.0
    q: float = 1.0
    eta_d: float = 0.1
    eta_g: float = 0.1
    sigma: tuple = (0.03, 3.0)
    lam: tuple = (0.01, 10.0)
    num_theory: int = 200
    num_measured: int = 6
    seed: int = 11


QUICK = Config(sigma=(0.1, 3.0), lam=(0.1, 10.0), num_theory=60, num_measured=3)


def _best(rates):
    """Index of the fastest rule per cell (-1 where no rule converges) and the speed-up."""
    finite = np.where(np.isfinite(rates), rates, np.inf)
    best = np.argmin(finite, axis=0)
    best_rate = np.take_along_axis(finite, best[None], axis=0)[0]
    best = np.where(best_rate < 1, best, -1)
    alt = finite[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        speedup = np.where(alt < 1, np.log(best_rate) / np.log(alt), np.inf)
    return best, np.where(best >= 0, speedup, np.nan), best_rate


def compute(config: Config = Config(), *, progress=no_progress) -> Result:
    """Theory map on a fine grid, measured map on a coarse grid."""
    par = dict(p=config.p, q=config.q, eta_d=config.eta_d, eta_g=config.eta_g)
    sig = np.geomspace(*config.sigma, config.num_theory)
    lam = np.geomspace(*config.lam, config.num_theory)
    rates, _ = theory_rates(sigma=sig[None, :], lam=lam[:, None], **par)  # (rule, lam, sigma)
    best, speedup, _ = _best(rates)

    sig_m = np.geomspace(config.sigma[0] * 1.5, config.sigma[1] / 1.5, config.num_measured)
    lam_m = np.geomspace(config.lam[0] * 1.5, config.lam[1] / 1.5, config.num_measured)
    pred_m, _ = theory_rates(sigma=sig_m[None, :], lam=lam_m[:, None], **par)
    measured = np.full(pred_m.shape, np.nan)
    rng = np.random.default_rng(config.seed)
    cells = [(r, i, j) for r in range(len(RULESET)) for i in range(lam_m.size) for j in range(sig_m.size)]
    for r, i, j in progress(cells, total=len(cells), desc=NAME):
        measured[r, i, j] = measure_rate(sigma=sig_m[j], lam=lam_m[i], rule=RULESET[r][1],
                                         predicted=pred_m[r, i, j], rng=rng, **par)
    best_pred, _, _ = _best(pred_m)
    best_meas, _, _ = _best(measured)
    top2 = np.sort(np.where(np.isfinite(pred_m), pred_m, np.inf), axis=0)[:2]
    clear = (top2[1] - top2[0]) > TIE_MARGIN
    agree = float(np.mean(best_pred[clear] == best_meas[clear])) if clear.any() else float("nan")
    ok = np.isfinite(measured)
    err = np.abs(measured - pred_m)[ok]
    table = [{"rule": RULESET[r][0], "sigma": float(sig_m[j]), "lam": float(lam_m[i]),
              "predicted_rate": float(pred_m[r, i, j]), "measured_rate": float(measured[r, i, j])}
             for r, i, j in cells]
    counts = {RULESET[k][0]: int((best == k).sum()) for k in range(len(RULESET))}
    return Result(
        name=NAME, config=config,
        data={"best": (("lam", "sigma"), best), "speedup": (("lam", "sigma"), speedup),
              "rate": (("rule", "lam", "sigma"), rates),
              "best_predicted_coarse": (("lam_m", "sigma_m"), best_pred),
              "best_measured_coarse": (("lam_m", "sigma_m"), best_meas),
              "measured_rate": (("rule", "lam_m", "sigma_m"), measured),
              "predicted_coarse": (("rule", "lam_m", "sigma_m"), pred_m)},
        coords={"rule": np.array([r for r, _ in RULESET]), "lam": lam, "sigma": sig,
                "lam_m": lam_m, "sigma_m": sig_m},
        table=table,
        summary={"winner_agreement_clear_cells": agree, "num_clear_cells": int(clear.sum()),
                 "max_abs_rate_error": float(err.max()) if err.size else np.nan,
                 "median_speedup_over_alternating": float(np.nanmedian(speedup[np.isfinite(speedup)]))}
        | {f"cells_won_{k.replace(' ', '').replace(',', '_').replace('=', '')}": v
           for k, v in counts.items()},
        caption=("Fastest update rule at equal learning rates (eta_d = eta_g = "
                 f"{config.eta_d}) for an isolated kernel GAN (p = {config.p}, q = {config.q}). "
                 "(a) predicted winner (closed forms, theory section 8; white: no rule converges); "
                 "(b) its speed-up over alternating GDA, log(rate_best)/log(rate_alt); "
                 "(c) winner measured from the exact dynamics of every rule on a coarse grid."))


def plot(result: Result):
    """Three panels: predicted winner, speed-up, measured winner."""
    import matplotlib.colors as mcolors
    from matplotlib.patches import Patch
    from matplotlib.ticker import NullFormatter

    from ..plotting import SYMBOLS, new_figure, panel_label

    fig, axes = new_figure(1, 3, width=7.0, height=2.6)
    cmap = mcolors.ListedColormap(["white"] + list(RULE_COLORS[:len(RULESET)]))
    norm = mcolors.BoundaryNorm(np.arange(-1.5, len(RULESET)), cmap.N)
    sig, lam = result["sigma"], result["lam"]
    axes[0].pcolormesh(sig, lam, result["best"], cmap=cmap, norm=norm, shading="auto")
    sp = result["speedup"]
    finite = sp[np.isfinite(sp)]
    vmax = max(2.0, float(np.nanpercentile(finite, 99))) if finite.size else 2.0
    pm = axes[1].pcolormesh(sig, lam, np.where(np.isfinite(sp), sp, np.nan), cmap="magma",
                            norm=mcolors.LogNorm(1.0, vmax), shading="auto")
    cb = fig.colorbar(pm, ax=axes[1], pad=0.01)
    cb.set_label("speed-up over alternating")
    axes[2].pcolormesh(result["sigma_m"], result["lam_m"], result["best_measured_coarse"], cmap=cmap,
                       norm=norm, shading="nearest")
    titles = ("predicted fastest rule", "speed-up (predicted)", "measured fastest rule")
    for k, ax in enumerate(axes):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(sig[0], sig[-1])
        ax.set_ylim(lam[0], lam[-1])
        ax.set_xlabel(SYMBOLS["sigma"])
        ax.set_title(titles[k])
        panel_label(ax, "abc"[k])
    axes[0].set_ylabel(SYMBOLS["lam"])
    handles = [Patch(color=RULE_COLORS[k], label=str(r).replace("beta", r"$\beta$"))
               for k, r in enumerate(result["rule"])]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False, fontsize=6)
    return fig
