"""Unequal weights in ``local-minima``: predicted stable collapses against runs (issue 19).

True points ``-1, +1`` with weights ``config.uneq_p`` and its mirror order, two generated points of
weight ``config.q``, ``lam`` in ``config.uneq_lams`` and the widths ``config.uneq_sigmas``. For
each game the fixed-point catalogue (:func:`kernelgda.fixed_points`, structured starts) lists the
collapse fixed points (both points around one true point, coincident or spread) and judges each
for the experiment's GDA. Each collapse is then tested by an exact run from its ``f*`` with the
points moved ``config.uneq_offset`` length scales in a random direction (seeded): the run *stays*
when after ``config.uneq_steps`` steps it is closer to the entry than it started, and leaves
otherwise. A verdict is *decisive* when the linearization predicts a factor of at least
:data:`DECISIVE` either way over the run (``rho^T <= 1 / DECISIVE`` or ``>= DECISIVE``); the
others are counted as undecided in ``T`` steps. All runs of one ``lam`` form one batch
(:func:`kernelgda.simulate_batch`).
"""

from __future__ import annotations

import numpy as np

from ..batch import simulate_batch
from ..catalogue import fixed_points
from ..catalogue.starts import distance, weight_groups
from ..game import GDA, KernelGAN
from ..kernels import Gaussian

__all__ = ["collapse_verdicts", "DECISIVE", "KINDS"]

#: Factor of growth or decay over a run that the linearization must predict for a decisive verdict.
DECISIVE = 100.0
#: Collapse kinds, in the order of the ``collapse`` dimension: spread / coincident on the lighter
#: and on the heavier true point.
KINDS = ("spread on light", "coincident on light", "spread on heavy", "coincident on heavy")


def _kind(entry, heavy: int) -> int | None:
    k = entry.kind
    if k.kind != "collapse" or not k.shared:
        return None
    site = k.shared[0][0]
    spread = np.ptp(entry.y[:, 0]) > 1e-3 * entry.length_scale
    return (0 if spread else 1) + (2 if site == heavy else 0)


def collapse_verdicts(config) -> dict:
    """Predicted and measured verdicts on every collapse of the unequal-weight games.

    Returns a dict of arrays over ``(order, lam, sigma, collapse)`` (order 0: ``uneq_p``, 1: its
    mirror; collapse: :data:`KINDS`): ``y`` (the entry's points, ``nan`` where the catalogue has no
    such collapse), ``radius``, ``predicted`` (1 stable, 0 unstable, -1 none), ``measured`` (1 the
    run stayed, 0 it left, -1 none), ``decisive`` (bool), ``ratio`` (end distance over start
    distance), and ``rows`` for the experiment's table.
    """
    gda = GDA(config.eta_d, config.eta_g, config.mode)
    q = np.array(config.q, dtype=float)
    orders = (tuple(config.uneq_p), tuple(config.uneq_p)[::-1])
    lams, sigmas = np.array(config.uneq_lams, dtype=float), np.array(config.uneq_sigmas, dtype=float)
    shape = (2, lams.size, sigmas.size, len(KINDS))
    y = np.full(shape + (2,), np.nan)
    radius = np.full(shape, np.nan)
    predicted = np.full(shape, -1, dtype=np.int8)
    measured = np.full(shape, -1, dtype=np.int8)
    ratio = np.full(shape, np.nan)
    rng = np.random.default_rng(config.uneq_seed)
    groups = weight_groups(q)
    for b, lam in enumerate(lams):
        gans, starts, eqs, where, entries = [], [], [], [], []
        for o, p in enumerate(orders):
            heavy = int(np.argmax(p))
            for s, sigma in enumerate(sigmas):
                gan = KernelGAN(np.array(config.x)[:, None], np.array(p), Gaussian(sigma=sigma), lam=lam)
                for e in fixed_points(gan, q, gda=gda, num_random=0):
                    c = _kind(e, heavy)
                    if c is None or np.isfinite(radius[o, b, s, c]):
                        continue  # not a collapse, or (never seen) a second one of that kind
                    y[o, b, s, c], radius[o, b, s, c] = e.y[:, 0], e.spectral_radius
                    predicted[o, b, s, c] = int(bool(e.stable))
                    step = rng.standard_normal(e.y.shape)
                    gans.append(gan)
                    starts.append(e.y + config.uneq_offset * sigma * step / np.linalg.norm(step))
                    eqs.append(e.equilibrium)
                    where.append((o, b, s, c))
                    entries.append(e)
        if not gans:
            continue
        runs = simulate_batch(gans, gda, np.array(starts), q, config.uneq_steps, start=eqs,
                              history_tol=config.history_tol, record_every=config.uneq_steps)
        for r, (idx, e) in enumerate(zip(where, entries, strict=True)):
            end = runs.y[r, -1]
            gap = distance(end, e.y, groups) if np.all(np.isfinite(end)) else np.inf
            ratio[idx] = gap / distance(starts[r], e.y, groups)
            measured[idx] = int(ratio[idx] < 1)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        factor = radius ** config.uneq_steps
        decisive = (predicted >= 0) & ((factor <= 1 / DECISIVE) | (factor >= DECISIVE))
    rows = []
    for o, p in enumerate(orders):
        for b, lam in enumerate(lams):
            for s, sigma in enumerate(sigmas):
                for c, name in enumerate(KINDS):
                    if predicted[o, b, s, c] < 0:
                        continue
                    rows.append({
                        "weights": f"({p[0]:g}, {p[1]:g})", "lam": float(lam), "sigma": float(sigma),
                        "collapse": name,
                        "points": f"({y[o, b, s, c, 0]:.4f}, {y[o, b, s, c, 1]:.4f})",
                        "spectral radius": float(radius[o, b, s, c]),
                        "predicted": "stable" if predicted[o, b, s, c] else "unstable",
                        "run": "stays" if measured[o, b, s, c] else "leaves",
                        "distance ratio": float(ratio[o, b, s, c]),
                        "decisive": bool(decisive[o, b, s, c])})
    return {"y": y, "radius": radius, "predicted": predicted, "measured": measured,
            "decisive": decisive, "ratio": ratio, "rows": rows}


def _widths(sigmas, mask) -> str:
    return ", ".join(f"{s:g}" for s in sigmas[mask]) or "none"


def summary(config, res: dict) -> dict:
    """Headline strings: verdict agreement, the widths with a stable collapse (first order), and
    how closely the mirror order reproduces the spectral radii."""
    pred, meas, dec = res["predicted"], res["measured"], res["decisive"]
    has = pred >= 0
    agree = has & (pred == meas)
    sig = np.array(config.uneq_sigmas, dtype=float)
    stable = []
    for b, lam in enumerate(config.uneq_lams):
        heavy = pred[0, b, :, 2] == 1
        light = pred[0, b, :, 0] == 1
        stable.append(f"lam {lam:g}: on the heavy point at widths {_widths(sig, heavy)}, on the light "
                      f"point at {_widths(sig, light)}")
    r0, r1 = res["radius"][0], res["radius"][1]
    same = np.isfinite(r0) == np.isfinite(r1)
    both = np.isfinite(r0) & np.isfinite(r1)
    return {
        "unequal_verdicts_agree": (f"{int((agree & dec).sum())} of {int(dec.sum())} decisive collapses "
                                   f"({int((has & ~dec).sum())} undecided in {config.uneq_steps} steps, "
                                   f"{int((agree & ~dec).sum())} of them agree)"),
        "unequal_stable_collapses": f"weights {tuple(config.uneq_p)}: " + "; ".join(stable),
        "unequal_mirror": (f"same collapses in both orders: {bool(same.all())}, spectral radii "
                           f"within {float(np.abs(r0[both] - r1[both]).max()) if both.any() else 0:.1g}"),
    }


#: Marker per collapse kind (:data:`KINDS`) in :func:`draw`.
MARKERS = ("^", "^", "o", "o")


def draw(ax, result) -> None:
    """Spectral radius minus 1 of every collapse against the width (first weight order): filled
    where stable, one colour per ``lam``; a red ring where the run disagrees with the verdict."""
    sig, lams = result["uneq_sigma"], result["uneq_lam"]
    radius, pred, meas = result["uneq_radius"][0], result["uneq_predicted"][0], result["uneq_measured"][0]
    colors = ("#2171b5", "#d95f02", "#1b9e77", "#7570b3")
    for b, lam in enumerate(lams):
        for c, name in enumerate(KINDS):
            ok = pred[b, :, c] >= 0
            if not ok.any():
                continue
            coincident = "coincident" in name
            ax.plot(sig[ok], radius[b, ok, c] - 1, MARKERS[c], ls=":" if coincident else "-", lw=0.7,
                    color=colors[b % len(colors)], mfc="none" if coincident else colors[b % len(colors)],
                    ms=3.5, label=f"lam = {lam:g}, {name}")
            bad = ok & (pred[b, :, c] != meas[b, :, c])
            ax.plot(sig[bad], radius[b, bad, c] - 1, "o", mfc="none", mec="red", ms=7)
    ax.axhline(0, color="0.5", lw=0.6)
    ax.set_yscale("symlog", linthresh=1e-3)
    top = np.nanmax(np.abs(radius - 1)) if np.isfinite(radius).any() else 1.0
    ax.set_ylim(top=100 * max(top, 1e-3))  # room for the legend above the data
    ax.set_xlabel(r"$\sigma$")
    ax.set_ylabel(r"spectral radius $- 1$ of the collapse")
    ax.legend(fontsize=5, frameon=False, ncols=2, loc="upper center")
