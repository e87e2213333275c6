"""Kernel shape: fast local convergence and reach, single Gaussians against multiscale mixtures.

Theory section 9, "Kernel shape". The local rate depends on the kernel only through
``g = -kappa'(0)`` (for a mixture ``sum_s w_s / sigma_s^2``): it is the generator-visible
rate of the isolated points model (theory section 5) with ``gamma = g``. The basin
depends on how far the kernel reaches. For single Gaussians of widths
``sigma_1 < ... < sigma_L`` and their mixtures ``sum_s w_s exp(-|u - v|^2 / (2 sigma_s^2))``
with weights ``w_s = (sigma_s / sigma_L)^beta`` (``beta = 0``: equal weights; larger
``beta``: weights growing with the width), one generated point (``d = 1``,
``p = q = 1``, ``f0 = 0``) starts at a random distance ``r`` from the true point: ``r``
is drawn log-uniformly within each of a few bins between ``0.1 sigma_1`` and
``10 sigma_L`` (and a random side). A start *converges* when the point is within
``tol sigma_1`` of the true point from some step ``k <= T`` on (a point that merely
crosses the true point while oscillating does not count). Exact runs are batched
(``kg.simulate_batch``, one batch per kernel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..batch import simulate_batch
from ..game import GDA, KernelGAN
from ..isolated import eigenvalues
from ..kernels import Gaussian, Multiscale
from ._base import Result, no_progress

NAME = "kernel-shape"
DESCRIPTION = ("Single Gaussians against multiscale mixtures: local rate (closed form) and the "
               "fraction of random starts that converge, against the start distance (theory section 9)")


@dataclass(frozen=True)
class Config:
    """The authors'-style two-point game with a sweep of mixture weights."""

    sigmas: tuple = (0.1, 1.0)
    betas: tuple = (0.0, 0.5, 1.0, 1.5, 2.0)     # mixture weights (sigma_s / sigma_L)^beta
    num_bins: int = 12
    per_bin: int = 4
    num_steps: int = 2000
    tol: float = 1e-3                           # converged: within tol * sigma_1
    # (lam, eta_d, eta_g): theory section 9's first check, where every kernel is in the
    # oscillatory band and has the same local rate sqrt(1 - eta_d lam), and a game in which
    # the wide kernel is in the slower monotone regime.
    games: tuple = ((0.1, 0.05, 0.05), (1.0, 0.1, 0.02))
    history_tol: float = 1e-10
    p: float = 1.0
    q: float = 1.0
    mode: str = "alternating"
    seed: int = 3


QUICK = Config(betas=(0.0, 1.0), num_bins=6, per_bin=2, num_steps=600, games=((1.0, 0.1, 0.02),))


def _kernels(config):
    sig = np.asarray(config.sigmas, dtype=float)
    kernels = [(f"Gaussian sigma={s:g}", Gaussian(sigma=float(s))) for s in sig]
    for beta in config.betas:
        w = (sig / sig.max()) ** beta
        label = f"mixture beta={beta:g} (w = {', '.join(f'{v:.2g}' for v in w)})"
        kernels.append((label, Multiscale(sigmas=tuple(sig), scale_weights=tuple(w))))
    return kernels


def compute(config: Config = Config(), *, progress=no_progress) -> Result:
    """Local rates and basins of every kernel (module docstring)."""
    rng = np.random.default_rng(config.seed)
    sig = np.asarray(config.sigmas, dtype=float)
    edges = np.geomspace(0.1 * sig.min(), 10 * sig.max(), config.num_bins + 1)
    centers = np.sqrt(edges[:-1] * edges[1:])
    log_r = rng.uniform(np.log(edges[:-1])[:, None], np.log(edges[1:])[:, None],
                        size=(config.num_bins, config.per_bin))
    starts = (np.exp(log_r) * rng.choice([-1.0, 1.0], size=log_r.shape)).ravel()
    kernels = _kernels(config)
    nk, ng = len(kernels), len(config.games)
    target = config.tol * sig.min()
    steps = np.full((ng, nk, starts.size), -1)
    rate = np.empty((ng, nk))
    g = np.array([kernel.g for _, kernel in kernels])
    for (h, (lam, eta_d, eta_g)), (i, (_, kernel)) in progress(
            [(gm, kn) for gm in enumerate(config.games) for kn in enumerate(kernels)],
            total=ng * nk, desc=NAME):
        # The isolated points model depends on the kernel only through g (theory section 5).
        rate[h, i] = float(eigenvalues(p=config.p, q=config.q, n=1, eta_d=eta_d, eta_g=eta_g,
                                       lam=lam, sigma=g[i] ** -0.5, mode=config.mode).generator_rate)
        gan = KernelGAN([[0.0]], config.p, kernel, lam=lam)
        runs = simulate_batch(gan, GDA(eta_d, eta_g, config.mode), starts[:, None, None], config.q,
                              config.num_steps, history_tol=config.history_tol)
        dist = np.abs(runs.y[:, :, 0, 0])
        outside = ~(dist <= target)                 # nan (diverged) counts as outside
        first_in = config.num_steps + 1 - np.argmax(outside[:, ::-1], axis=1)  # after the last exit
        steps[h, i] = np.where(outside[:, -1], -1, np.where(outside.any(axis=1), first_in, 0))
    converged = (steps >= 0).reshape(ng, nk, config.num_bins, config.per_bin)
    fraction = converged.mean(axis=-1)
    step_bins = steps.reshape(ng, nk, config.num_bins, config.per_bin).astype(float)
    with np.errstate(invalid="ignore"):
        median_steps = np.array([[[np.median(c[c >= 0]) if (c >= 0).any() else np.nan for c in row]
                                  for row in game] for game in step_bins])
    # Reach: the largest bin centre from which at least half of the starts converge (a kernel
    # may fail closer in only because its slow local rate needs more than T steps).
    reach = np.array([[centers[f >= 0.5].max(initial=0.0) for f in game] for game in fraction])
    near = centers <= 0.5 * sig.max()
    with np.errstate(invalid="ignore"):
        near_steps = np.array([[np.nanmedian(m[near]) if np.isfinite(m[near]).any() else np.nan
                                for m in game] for game in median_steps])
    labels = np.array([lab for lab, _ in kernels])
    dims = ("game", "kernel")
    data = {
        "fraction": (dims + ("r",), fraction), "median_steps": (dims + ("r",), median_steps),
        "start_steps": (dims + ("start",), steps), "starts": (("start",), starts),
        "local_rate": (dims, rate), "g": (("kernel",), g), "reach": (dims, reach),
        "near_steps": (dims, near_steps), "edges": (("edge",), edges),
        "lam": (("game",), np.array([gm[0] for gm in config.games])),
        "eta_d": (("game",), np.array([gm[1] for gm in config.games])),
        "eta_g": (("game",), np.array([gm[2] for gm in config.games])),
    }
    coords = {"game": np.arange(ng), "kernel": labels, "r": centers, "start": np.arange(starts.size),
              "edge": np.arange(edges.size)}
    table = [{"lam, eta_d, eta_g": ", ".join(f"{v:g}" for v in config.games[h]),
              "kernel": str(labels[i]), "g": float(g[i]),
              "local rate (closed form)": float(rate[h, i]),
              "reach (largest r with >= 50 % converged)": float(reach[h, i]),
              f"median steps, r <= {0.5 * sig.max():g}": float(near_steps[h, i]),
              "converged starts": f"{int((steps[h, i] >= 0).sum())} / {starts.size}"}
             for h in range(ng) for i in range(nk)]
    narrow, wide, nsig = 0, len(sig) - 1, len(sig)
    summary = {}
    verdicts = []
    for h in range(ng):
        pre = f"game{h}_"
        summary |= {pre + "narrow_rate": float(rate[h, narrow]), pre + "wide_rate": float(rate[h, wide]),
                    pre + "narrow_reach": float(reach[h, narrow]), pre + "wide_reach": float(reach[h, wide]),
                    pre + "narrow_near_steps": float(near_steps[h, narrow]),
                    pre + "wide_near_steps": float(near_steps[h, wide])}
        both = []
        for i in range(nsig, nk):
            beta = config.betas[i - nsig]
            summary[pre + f"beta{beta:g}_rate"] = float(rate[h, i])
            summary[pre + f"beta{beta:g}_reach"] = float(reach[h, i])
            summary[pre + f"beta{beta:g}_near_steps"] = float(near_steps[h, i])
            if (reach[h, i] >= reach[h, wide] and rate[h, i] <= rate[h, narrow] * (1 + 1e-9)
                    and not near_steps[h, i] > near_steps[h, wide]):
                both.append(f"{beta:g}")
        summary[pre + "betas_with_both"] = ", ".join(both) or "none"
        verdicts.append(f"game {h} (lam, eta_d, eta_g = {', '.join(f'{v:g}' for v in config.games[h])}): "
                        f"narrowest rate {rate[h, narrow]:.4f}, reach {reach[h, narrow]:.2g}; widest "
                        f"rate {rate[h, wide]:.4f}, reach {reach[h, wide]:.2g}; beta with both: "
                        f"{summary[pre + 'betas_with_both']}")
    caption = (
        f"Kernel shape (d = 1, p = q = 1, {config.mode}, f0 = 0, T = {config.num_steps}), one row per "
        f"game (lam, eta_d, eta_g): single Gaussians (sigma = {', '.join(f'{v:g}' for v in sig)}) and "
        "their mixtures with weights (sigma_s / sigma_L)^beta (dashed). (a) Fraction of random starts at "
        f"distance r that converge (stay within {config.tol:g} sigma_1 of the true point from some "
        "step <= T on). (b) Median steps to converge. (c) Local rate from the closed forms (it depends "
        "on the kernel only through g). Reach: the largest r from which at least half of the starts "
        "converge. 'Both' = the local rate of the narrowest member, at least the "
        f"reach of the widest and no slower than it for r <= {0.5 * sig.max():g}: "
        + "; ".join(verdicts) + ".")
    return Result(NAME, config, data, coords, table, summary, caption)


def plot(result: Result):
    """Per game: (a) fraction converged against r; (b) median steps against r; (c) local rates."""
    from ..plotting import new_figure, panel_label, style

    labels, r = result["kernel"], result["r"]
    nsig = len(result.config.sigmas)
    colors = ["#08306b", "#6baed6", "#a50f15", "#de2d26", "#fb6a4a", "#fc9272", "#fcbba1",
              "#54278f", "#9e9ac8"]
    ng = len(result["game"])
    with style():
        fig, axes = new_figure(ng, 3, width=6.8, height=2.3 * ng + 0.3, squeeze=False,
                               gridspec_kw={"width_ratios": [1, 1, 0.8]})
        for h in range(ng):
            ax, bx, cx = axes[h]
            for i, label in enumerate(labels):
                color = colors[i % len(colors)]
                ls = "-" if i < nsig else "--"
                short = str(label).split(" (")[0]
                ax.plot(r, result["fraction"][h, i], color=color, ls=ls, marker="o", ms=2.5,
                        label=short)
                bx.plot(r, result["median_steps"][h, i], color=color, ls=ls, marker="o", ms=2.5)
                cx.bar(i, 1 - result["local_rate"][h, i], color=color)
            for axis in (ax, bx):
                axis.set_xscale("log")
                for s in result.config.sigmas:
                    axis.axvline(s, color="0.8", lw=0.6, zorder=0)
            game = (rf"$\lambda$={result['lam'][h]:g}, $\eta$=({result['eta_d'][h]:g}, "
                    rf"{result['eta_g'][h]:g})")
            ax.set_ylabel(f"{game}\nfraction converged")
            ax.set_ylim(-0.05, 1.05)
            bx.set_yscale("log")
            bx.set_ylabel("median steps to converge")
            cx.set_ylim(0, 1.15 * np.nanmax(1 - result["local_rate"][h]))
            cx.set_ylabel(r"local $1 - |z|$ (closed form)")
            cx.set_xticks(range(len(labels)), [str(lab).split(" (")[0].replace("Gaussian ", "")
                                               .replace("mixture ", "") for lab in labels],
                          rotation=60, ha="right", fontsize=5.5)
            if h == 0:
                panel_label(ax, "a")
                panel_label(bx, "b")
                panel_label(cx, "c")
            if h == ng - 1:
                ax.set_xlabel(r"start distance $r$")
                bx.set_xlabel(r"start distance $r$")
        handles, names = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncols=4, frameon=False, fontsize=6)
    return fig
