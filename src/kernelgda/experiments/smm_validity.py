"""Where the second-moment model holds: predicted against exact times to converge.

Theory section 9. ``n`` generated points of total mass ``Q`` (a small deficit,
``Q < p``, so that every run converges) start as a cloud around one true point
with mean offset ``|e0| = r sigma`` (a random direction) and isotropic spread
(covariance exactly ``(s sigma)^2 I``), with the discriminator at the isolated
fixed point's ``f*``. For every ``(r, s, lam)`` cell the number of steps until the
mean squared distance to the true point, ``tr S + |e|^2``, falls by ``1e3`` and by
``1e6`` is measured on the exact dynamics (``kg.simulate``) and predicted by the
SMM and by the linear model (:func:`kernelgda.smm.fall_steps`, one call for the
whole grid). The map of ``predicted / exact`` is the result, where the SMM fails
included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dynamics import simulate
from ..equilibrium import find_equilibrium
from ..game import GDA, KernelGAN
from ..kernels import Gaussian
from ..smm import fall_steps
from ._base import Result, no_progress

NAME = "smm-validity"
DESCRIPTION = ("Map over start offset, spread and lam of how well the second-moment model and the "
               "linear model predict the steps to converge (theory section 9)")


@dataclass(frozen=True)
class Config:
    """Grid and game (Gaussian ``sigma = 1``, alternating, ``d = 2``)."""

    offsets: tuple = (0.0, 0.1, 0.3, 0.5, 1.0)      # |e0| / sigma
    spreads: tuple = (0.0, 0.05, 0.15, 0.3, 0.45)   # s: per-direction standard deviation / sigma
    lams: tuple = (0.3, 1.0, 3.0)
    factors: tuple = (1e3, 1e6)
    n: int = 6
    d: int = 2
    p: float = 1.0
    mass_ratio: float = 0.95                        # Q / p
    sigma: float = 1.0
    eta_d: float = 0.2
    eta_g: float = 4.0
    mode: str = "alternating"
    num_steps: int = 1200
    history_tol: float = 1e-8
    seed: int = 5


QUICK = Config(offsets=(0.0, 0.2, 0.5), spreads=(0.0, 0.1, 0.3), lams=(1.0,), num_steps=500)


def _cloud(rng, n, d, offset, spread):
    """``n`` points with mean ``offset`` and covariance exactly ``spread^2 I`` (normalized by n)."""
    if spread == 0:
        return np.broadcast_to(offset, (n, d)).copy()
    z = rng.normal(size=(n, d))
    z -= z.mean(axis=0)
    cov = z.T @ z / n
    vals, vecs = np.linalg.eigh(cov)
    z = z @ vecs @ np.diag(vals**-0.5) @ vecs.T       # whitened: covariance I
    return offset + spread * z


def _exact_fall(y, factors):
    w = (y**2).sum(axis=(1, 2)) / y.shape[1]
    out = []
    for f in factors:
        hit = np.nonzero(w <= w[0] / f)[0]
        out.append(int(hit[0]) if hit.size else -1)
    return out


def compute(config: Config = Config(), *, progress=no_progress) -> Result:
    """Exact fall times on the grid and the SMM and linear predictions (module docstring)."""
    if config.n <= config.d and any(v > 0 for v in config.spreads):
        raise ValueError(f"an isotropic spread in d = {config.d} needs n > d points, got n = {config.n}")
    rng = np.random.default_rng(config.seed)
    r, s, lams = (np.asarray(v, dtype=float) for v in (config.offsets, config.spreads, config.lams))
    fac = np.asarray(config.factors, dtype=float)
    n, d, sigma = config.n, config.d, config.sigma
    q = config.mass_ratio * config.p / n
    shape = (lams.size, r.size, s.size)
    exact = np.full(shape + (fac.size,), -1)
    e0 = np.zeros(shape + (d,))
    cov0 = np.zeros(shape + (d, d))
    active = np.zeros(shape, dtype=bool)
    gda = GDA(config.eta_d, config.eta_g, config.mode)
    for i, lam in enumerate(progress(lams, total=lams.size, desc=NAME)):
        gan = KernelGAN(np.zeros((1, d)), config.p, Gaussian(sigma), lam=float(lam))
        eq = find_equilibrium(gan, np.zeros((n, d)), q)
        for j, k in np.ndindex(r.size, s.size):
            if r[j] == 0 and s[k] == 0:
                continue                                # nothing to converge
            u = rng.normal(size=d)
            y0 = _cloud(rng, n, d, r[j] * sigma * u / np.linalg.norm(u), s[k] * sigma)
            traj = simulate(gan, gda, y0, q, config.num_steps, start=eq,
                            history_tol=config.history_tol)
            exact[i, j, k] = _exact_fall(traj.y, fac)
            mean = y0.mean(axis=0)
            e0[i, j, k] = mean
            cov0[i, j, k] = (y0 - mean).T @ (y0 - mean) / n
            active[i, j, k] = True
    smm, linear = fall_steps(Gaussian(sigma), p=config.p, q=q, n=n, lam=lams[:, None, None], gda=gda,
                             e0=e0, cov0=cov0 + np.where(active, 0.0, 1.0)[..., None, None] * np.eye(d),
                             num_steps=config.num_steps, factors=fac)
    smm = np.where(active[..., None], smm, -1)
    linear = np.where(active[..., None], linear, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        def ratio(pred):
            ok = (pred > 0) & (exact > 0)
            return np.where(ok, pred / np.where(exact > 0, exact, 1), np.nan)
        smm_ratio, lin_ratio = ratio(smm), ratio(linear)
    data = {
        "exact_steps": (("lam", "offset", "spread", "factor"), exact),
        "smm_steps": (("lam", "offset", "spread", "factor"), smm),
        "linear_steps": (("lam", "offset", "spread", "factor"), linear),
        "smm_ratio": (("lam", "offset", "spread", "factor"), smm_ratio),
        "linear_ratio": (("lam", "offset", "spread", "factor"), lin_ratio),
        "active": (("lam", "offset", "spread"), active),
    }
    coords = {"lam": lams, "offset": r, "spread": s, "factor": fac}
    table = []
    for idx in zip(*np.nonzero(active), strict=True):
        row = {"lam": float(lams[idx[0]]), "|e0|/sigma": float(r[idx[1]]),
               "spread/sigma": float(s[idx[2]])}
        for f, fv in enumerate(fac):
            row[f"exact steps to {fv:g}"] = int(exact[idx + (f,)])
            row[f"SMM steps to {fv:g}"] = int(smm[idx + (f,)])
            row[f"linear steps to {fv:g}"] = int(linear[idx + (f,)])
        table.append(row)
    summary = {"cells": int(active.sum())}
    measured = active[..., None] & (exact > 0)
    summary["cells_exact_converged"] = int(measured.all(axis=-1).sum())
    for name, pred, rat in (("smm", smm, smm_ratio), ("linear", linear, lin_ratio)):
        err = np.abs(np.log(rat[measured]))
        missed = int((measured & (pred < 0)).sum())
        summary[f"{name}_within_10pct"] = float(np.mean(err <= np.log(1.1)))
        summary[f"{name}_within_25pct"] = float(np.mean(err <= np.log(1.25)))
        summary[f"{name}_worst_ratio"] = float(np.exp(np.nanmax(np.where(np.isfinite(err), err,
                                                                          np.nan)))) \
            if np.isfinite(err).any() else float("nan")
        summary[f"{name}_no_fall_predicted"] = missed
    caption = (
        f"Steps until tr S + |e|^2 falls by {', '.join(f'{f:g}' for f in fac)}: predicted / exact, "
        f"for the second-moment model and the linear model, over the start offset |e0| / sigma "
        f"(x), the spread per direction / sigma (y) and lam (columns); n = {n} points in d = {d}, "
        f"Q / p = {config.mass_ratio:g}, sigma = {sigma:g}, (eta_d, eta_g) = ({config.eta_d:g}, "
        f"{config.eta_g:g}), {config.mode}, discriminator started at f*, T = {config.num_steps}. "
        "Colour: log2 of the ratio (white = exact); numbers: the ratio; 'x': the model predicts no "
        f"fall within T. Within 10 %: SMM {summary['smm_within_10pct']:.0%} of the measured cells, "
        f"linear {summary['linear_within_10pct']:.0%}; within 25 %: SMM "
        f"{summary['smm_within_25pct']:.0%}, linear {summary['linear_within_25pct']:.0%}; worst "
        f"ratio SMM {summary['smm_worst_ratio']:.2g}, linear {summary['linear_worst_ratio']:.2g}.")
    return Result(NAME, config, data, coords, table, summary, caption)


def plot(result: Result):
    """Rows: (factor, model); columns: lam; heat maps over (offset, spread)."""
    from ..plotting import new_figure, style

    lams, r, s, fac = result["lam"], result["offset"], result["spread"], result["factor"]
    rows = [(f, model) for f in range(len(fac)) for model in ("smm", "linear")]
    with style():
        fig, axes = new_figure(len(rows), len(lams), width=max(3.4, 2.2 * len(lams) + 0.8),
                               height=1.6 * len(rows) + 0.5, squeeze=False, sharex=True, sharey=True)
        image = None
        for a, (f, model) in enumerate(rows):
            for i, lam in enumerate(lams):
                ax = axes[a, i]
                rat = result[f"{model}_ratio"][i, :, :, f]
                logr = np.clip(np.log2(rat), -2, 2)
                image = ax.imshow(logr.T, origin="lower", cmap="RdBu_r", vmin=-2, vmax=2,
                                  aspect="auto", extent=(-0.5, len(r) - 0.5, -0.5, len(s) - 0.5))
                pred = result[f"{model}_steps"][i, :, :, f]
                exact = result["exact_steps"][i, :, :, f]
                act = result["active"][i]
                for j, k in np.ndindex(len(r), len(s)):
                    if not act[j, k]:
                        continue
                    if exact[j, k] < 0:
                        text = "-"
                    elif pred[j, k] < 0:
                        text = "x"
                    else:
                        text = f"{rat[j, k]:.2f}"
                    ax.text(j, k, text, ha="center", va="center", fontsize=5)
                ax.set_xticks(range(len(r)), [f"{v:g}" for v in r])
                ax.set_yticks(range(len(s)), [f"{v:g}" for v in s])
                if a == 0:
                    ax.set_title(rf"$\lambda = {lam:g}$")
                if i == 0:
                    ax.set_ylabel(f"{'SMM' if model == 'smm' else 'linear'}, fall {fac[f]:g}\n"
                                  r"spread $s/\sigma$")
                if a == len(rows) - 1:
                    ax.set_xlabel(r"offset $|e_0|/\sigma$")
        cbar = fig.colorbar(image, ax=axes, shrink=0.6, location="right")
        cbar.set_label(r"$\log_2$(predicted / exact steps)")
    return fig
