"""Generator-visible rate against bandwidth for each update rule (theory section 8).

Isolated kernel GAN (one true point, one generated point), fixed learning rates
and ``lam``: the closed-form rate of every rule as a line, and the rate measured
from the exact nonlinear dynamics of that rule (started at ``(f*, Y* + e0)``,
``|e0| = 1e-6 sigma``, Hankel fit of theory section 4) as markers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._base import Result, no_progress
from ._ruleset import RULE_COLORS, RULESET, measure_rate, theory_rates

NAME = "rule-rates"
DESCRIPTION = "Rate against sigma for each update rule: closed forms vs exact simulation (section 8)"


@dataclass(frozen=True)
class Config:
    """Isolated GAN (``p``, ``q``), learning rates, ``lam``, the sigma sweep and the measured points."""

    p: float = 1.0
    q: float = 1.0
    eta_d: float = 0.1
    eta_g: float = 0.1
    lam: float = 0.3
    sigma_min: float = 0.05
    sigma_max: float = 3.0
    num_sigma: int = 300
    num_measured: int = 9
    seed: int = 8


QUICK = Config(num_sigma=100, num_measured=4)


def compute(config: Config = Config(), *, progress=no_progress) -> Result:
    """Theory lines over a dense sigma grid, measured rates on a coarse one."""
    sigma = np.geomspace(config.sigma_min, config.sigma_max, config.num_sigma)
    sigma_m = np.geomspace(config.sigma_min * 1.3, config.sigma_max / 1.3, config.num_measured)
    par = dict(p=config.p, q=config.q, eta_d=config.eta_d, eta_g=config.eta_g, lam=config.lam)
    rate, _ = theory_rates(sigma=sigma, **par)
    pred_m, _ = theory_rates(sigma=sigma_m, **par)
    rng = np.random.default_rng(config.seed)
    measured = np.full(pred_m.shape, np.nan)
    cells = [(i, j) for i in range(len(RULESET)) for j in range(sigma_m.size)]
    for i, j in progress(cells, total=len(cells), desc=NAME):
        measured[i, j] = measure_rate(sigma=sigma_m[j], rule=RULESET[i][1], predicted=pred_m[i, j],
                                      rng=rng, **par)
    ok = np.isfinite(measured)
    err = np.abs(measured - pred_m)[ok]
    table = [{"rule": RULESET[i][0], "sigma": float(sigma_m[j]), "predicted_rate": float(pred_m[i, j]),
              "measured_rate": float(measured[i, j]), "abs_error": float(abs(measured[i, j] - pred_m[i, j]))}
             for i, j in cells]
    return Result(
        name=NAME, config=config,
        data={"rate": (("rule", "sigma"), rate), "predicted_measured": (("rule", "sigma_m"), pred_m),
              "measured_rate": (("rule", "sigma_m"), measured)},
        coords={"rule": np.array([r for r, _ in RULESET]), "sigma": sigma, "sigma_m": sigma_m},
        table=table,
        summary={"num_measured": int(ok.sum()), "max_abs_error": float(err.max()) if err.size else np.nan,
                 "median_abs_error": float(np.median(err)) if err.size else np.nan},
        caption=(f"Generator-visible rate against bandwidth sigma for six update rules on an isolated "
                 f"kernel GAN (p = {config.p}, q = {config.q}, lam = {config.lam}, eta_d = {config.eta_d}, "
                 f"eta_g = {config.eta_g}). Lines: closed forms (theory sections 5 and 8); markers: "
                 "rates measured from the exact nonlinear dynamics of each rule. Above 1: divergence."))


def plot(result: Result):
    """Rate against sigma, one colour per rule."""
    from ..plotting import SYMBOLS, new_figure

    cfg = result.config
    fig, ax = new_figure(1, 1, width=3.4, height=3.4)
    for i, label in enumerate(result["rule"]):
        col = RULE_COLORS[i % len(RULE_COLORS)]
        ax.plot(result["sigma"], result["rate"][i], color=col, label=str(label).replace("beta", r"$\beta$"))
        ax.plot(result["sigma_m"], result["measured_rate"][i], ls="", marker="o", ms=3.5, mfc="none",
                color=col)
    ax.axhline(1.0, color="0.5", lw=0.6, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel(SYMBOLS["sigma"])
    ax.set_ylabel(SYMBOLS["generator_rate"])
    top = float(np.nanmax(np.clip(result["rate"], None, 1.5)))
    ax.set_ylim(max(0.0, float(np.nanmin(result["rate"])) - 0.05), min(1.5, top + 0.03))
    ax.set_title(rf"$\lambda$ = {cfg.lam:g}, $\eta_d$ = {cfg.eta_d:g}, $\eta_g$ = {cfg.eta_g:g}")
    fig.legend(loc="outside lower center", ncol=2, frameon=False, fontsize=6)
    return fig
