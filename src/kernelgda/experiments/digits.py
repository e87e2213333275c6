"""Real data: ten handwritten digits, ten free generated points, a sweep of the bandwidth.

The true points are the first image of each class in scikit-learn's bundled
``load_digits`` (8 x 8 pixels, ``d = 64``, no download), scaled from ``[0, 16]`` to
``[0, 1]``; each has weight ``p = 1`` (their distances range from about 2 to 4). Ten
generated points of weight ``q = 1`` start at the targets plus Gaussian pixel noise
(seeded) and follow alternating GDA from ``f0 = 0`` with a Gaussian kernel of
bandwidth ``sigma``.

Prediction. With ``p = q`` the fixed point is ``Y* = X`` with ``f* = 0`` (a perfect
fit), so the linearization at it (theory section 4, the general Jacobian on the
``(10 + 10) x 64``-dimensional reduced state, computed through the eigenvalues of its
coupling matrix ``C``, :func:`perfect_fit_dominant`) predicts for each ``sigma`` a
generator-visible rate ``|z|`` and a regime, and from it an outcome after ``T``
steps: *diverges* when ``|z| > 1``, *converges* when ``|z|^T < converge_ratio``
(the distance falls by that factor within the run), *stalls* otherwise.

NNGP. The authors' MNIST notebook used a depth-2 NNGP kernel on ten images with free points;
the same is done here for the ReLU NNGP kernel (theory section 10) at every depth and bias of
a scan (:mod:`kernelgda.experiments._digits_nngp`), from the same start, with the same
linearization at the perfect fit and the same outcome rules. Both halves report the
``W2^2`` curve (theory section 10) between the generated points and the digits.

Observation. The run *diverges* when it leaves the divergence ball or ends more than
``escape_ratio`` times further from the data than it started, *converges* when it ends
within ``converge_ratio`` of its starting distance, and *stalls* otherwise. The
linearization is local: where the noise puts the generated points more than about a
bandwidth from their targets the exact run can do something else, and the figure
shows where.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..batch import simulate_batch
from ..equilibrium import find_equilibrium
from ..game import GDA, KernelGAN
from ..kernels import Gaussian
from ..regimes import DEFAULT_TOL, REGIMES, classify
from ..status import Status
from ..wasserstein import wasserstein2_series
from ._base import Result, no_progress, regime_code
from ._data import load_targets
from ._digits_nngp import scan as nngp_scan

NAME = "digits"
DESCRIPTION = ("Ten handwritten digits (scikit-learn load_digits, d = 64): which bandwidths "
               "diverge, stall or converge, and whether the linearization predicted it")

OUTCOMES = ("converges", "stalls", "diverges")


@dataclass(frozen=True)
class Config:
    """Settings of the digits experiment."""

    sigmas: tuple = tuple(float(s) for s in np.round(np.geomspace(0.25, 40.0, 12), 4))
    lam: float = 0.1
    eta_d: float = 1.0
    eta_g: float = 1.0
    noise: float = 0.15
    num_steps: int = 1000
    converge_ratio: float = 1e-2
    escape_ratio: float = 2.0
    history_tol: float = 1e-12
    seed: int = 0
    nngp_depths: tuple = (1, 2, 3)
    nngp_biases: tuple = (0.0, 0.5, 1.0)
    nngp_steps: int = 400
    w2_every: int = 10


QUICK = Config(sigmas=(0.3, 0.8, 1.6, 20.0), num_steps=200, nngp_depths=(1, 2), nngp_biases=(0.5,),
               nngp_steps=100)


def predicted_outcome(rate: float, num_steps: int, converge_ratio: float, tol: float = DEFAULT_TOL) -> str:
    """Outcome the linear rate predicts after ``num_steps`` (module docstring)."""
    if rate > 1 + tol:
        return "diverges"
    return "converges" if rate**num_steps < converge_ratio else "stalls"


def observed_outcome(d0: float, d_end: float, diverged: bool, config: Config) -> str:
    """Outcome of an exact run from its start and end distances to the data."""
    if diverged or not np.isfinite(d_end) or d_end > config.escape_ratio * d0:
        return "diverges"
    return "converges" if d_end < config.converge_ratio * d0 else "stalls"


def perfect_fit_dominant(gan: KernelGAN, gda: GDA, q: float) -> complex:
    """Dominant generator-visible eigenvalue of alternating GDA at the perfect fit ``Y* = X``.

    With ``p = q`` (a scalar weight), ``Y* = X`` and ``f* = 0`` the blocks of theory section 4
    are ``H = 0``, ``Q = q I``, ``Pb = I`` and ``C`` the symmetric ``nd x nd`` matrix of mixed
    second derivatives ``C_lj = d_u d_v^T K(x_l, x_j)``. Every block of ``J_alt`` is then a
    polynomial in ``C``, so on each eigenvector of ``C`` (eigenvalue ``g_i >= 0``) ``J_alt``
    acts as the isolated pair of theory section 5 with the curvature ``gamma`` replaced by
    ``g_i``: ``tr = 2 - a - c_i``, ``det = 1 - a``, ``c_i = eta_d eta_g q^2 g_i``. All these
    modes reach the generated points, so the generator-visible rate is the largest root over
    ``i``. One symmetric ``nd x nd`` eigensolve replaces the ``2 nd x 2 nd`` general one of
    :func:`~kernelgda.linearize` (the tests check that both agree).
    """
    x = gan.x_true
    n, d = x.shape
    mixed = gan.kernel.mixed(x, x)  # (n, n, d, d)
    C = mixed.transpose(0, 2, 1, 3).reshape(n * d, n * d)
    g = np.linalg.eigvalsh(0.5 * (C + C.T))
    a = gda.eta_d * gan.lam
    c = gda.eta_d * gda.eta_g * q**2 * g
    tr = 2 - a - c
    root = np.sqrt((tr * tr - 4 * (1 - a)).astype(complex))
    roots = np.concatenate([(tr + root) / 2, (tr - root) / 2])
    top = roots[np.abs(roots) >= np.abs(roots).max() * (1 - 1e-12)]
    best = top[np.lexsort((-top.real, -top.imag))][0]  # Im > 0 of a pair, else largest real part
    return complex(best)


def decay_rate(distance: np.ndarray, linear_limit: float, floor: float, envelope: int = 10) -> float:
    """Observed rate: ``exp`` of the least-squares slope of ``log`` of the running-maximum envelope
    of ``|Y^k - X|`` over the steps where it is below ``linear_limit`` and above ``floor``.

    The Hankel fit of :mod:`kernelgda.measure` needs more snapshots than the reduced state
    has directions when many modes share the dominant modulus (here hundreds of complex
    pairs on the circle ``sqrt(1 - eta_d lam)``); the envelope slope does not, at the price
    of a bias from slower modes that have not yet died out. ``floor`` sits above 1e3 times the
    certified gradient error of the truncated history, whose tail is not the linear
    dynamics. ``nan`` when fewer than 10 steps qualify.
    """
    from scipy.ndimage import maximum_filter1d

    d = np.where(np.isfinite(distance), distance, np.inf)
    env = maximum_filter1d(d, size=2 * envelope + 1, mode="nearest")
    k = np.flatnonzero((d <= linear_limit) & (env >= floor) & np.isfinite(env))
    if k.size < 10:
        return float("nan")
    return float(np.exp(np.polyfit(k, np.log(env[k]), 1)[0]))


def compute(config: Config = Config(), *, progress=no_progress) -> Result:
    """Sweep the bandwidth (module docstring)."""
    x, labels = load_targets()
    rng = np.random.default_rng(config.seed)
    y0 = x + rng.normal(scale=config.noise, size=x.shape)
    sigmas = np.asarray(config.sigmas, dtype=float)
    gda = GDA(config.eta_d, config.eta_g, "alternating")
    gans = [KernelGAN(x, 1.0, Gaussian(sigma=s), lam=config.lam) for s in sigmas]
    dominant = np.empty(sigmas.size, dtype=complex)
    code = np.empty(sigmas.size, dtype=np.int8)
    for i, gan in enumerate(progress(gans, total=len(gans), desc=NAME)):
        eq = find_equilibrium(gan, x, 1.0)
        if not (eq.converged and np.array_equal(eq.y, x)):  # p = q: Y* = X exactly (section 3)
            raise RuntimeError(f"expected the perfect fit Y* = X as fixed point: {eq.message}")
        dominant[i] = perfect_fit_dominant(gan, gda, q=1.0)
        code[i] = regime_code(classify(dominant[i]))
    runs = simulate_batch(gans, gda, y0, 1.0, config.num_steps, history_tol=config.history_tol)
    dist = np.sqrt(((runs.y - x) ** 2).sum(axis=(2, 3)))  # (sigma, step), nan after divergence
    final = np.array([runs.y[i, runs.num_taken[i]] for i in range(sigmas.size)])
    floor = np.maximum(1e5 * np.finfo(float).eps, 1e3 * runs.truncation_bound)
    measured = np.array([decay_rate(dist[i], 1e-3 * s, floor[i]) for i, s in enumerate(sigmas)])
    rate = np.abs(dominant)
    predicted = [predicted_outcome(r, config.num_steps, config.converge_ratio) for r in rate]
    observed = [observed_outcome(dist[i, 0], dist[i, runs.num_taken[i]], runs.status[i] == Status.DIVERGED,
                                 config) for i in range(sigmas.size)]
    w2_steps = np.arange(0, config.num_steps + 1, config.w2_every)
    if w2_steps[-1] != config.num_steps:
        w2_steps = np.append(w2_steps, config.num_steps)
    w2 = np.full((sigmas.size, w2_steps.size), np.nan)
    for i in range(sigmas.size):  # up to the last finite configuration
        at, values = wasserstein2_series(runs.y[i, :runs.num_taken[i] + 1], 1.0, x, 1.0,
                                         every=config.w2_every)
        w2[i, np.searchsorted(w2_steps, at)] = values
    dims = ("sigma",)
    data = {
        "distance": (("sigma", "step"), dist), "final": (("sigma", "point", "pixel"), final),
        "initial": (("point", "pixel"), y0), "targets": (("point", "pixel"), x),
        "labels": (("point",), labels),
        "predicted": (dims, dominant), "predicted_regime": (dims, code),
        "measured_rate": (dims, measured),
        "predicted_outcome": (dims, np.array([OUTCOMES.index(o) for o in predicted], dtype=np.int8)),
        "observed_outcome": (dims, np.array([OUTCOMES.index(o) for o in observed], dtype=np.int8)),
        "steps_taken": (dims, runs.num_taken), "truncation_bound": (dims, runs.truncation_bound),
        "w2": (("sigma", "w2_step"), w2),
    }
    coords = {"sigma": sigmas, "step": np.arange(config.num_steps + 1), "point": np.arange(10),
              "pixel": np.arange(x.shape[1]), "w2_step": w2_steps}
    table = [{
        "kernel": f"gaussian sigma {s:g}", "predicted regime": REGIMES[code[i]],
        "predicted rate": float(rate[i]),
        "measured rate": float(measured[i]), "predicted outcome": predicted[i],
        "observed outcome": observed[i], "agree": "yes" if predicted[i] == observed[i] else "NO",
        "final distance / initial": float(dist[i, runs.num_taken[i]] / dist[i, 0]),
        "final W2^2 / initial": float(w2[i, np.flatnonzero(np.isfinite(w2[i]))[-1]] / w2[i, 0]),
    } for i, s in enumerate(sigmas)]
    agree = np.array([p == o for p, o in zip(predicted, observed, strict=True)])
    summary = {"agreement": f"{int(agree.sum())}/{agree.size}",
               "mispredicted_sigmas": ", ".join(f"{s:g}" for s in sigmas[~agree]) or "none",
               "initial_distance": float(dist[0, 0]),
               "max_truncation_bound": float(runs.truncation_bound.max()),
               "initial_w2": float(w2[0, 0])}
    nngp_data, nngp_coords, nngp_table, nngp_summary = nngp_scan(
        x, y0, config, gda, outcomes=OUTCOMES, predicted_outcome=predicted_outcome,
        observed_outcome=observed_outcome, dominant_of=perfect_fit_dominant, decay_rate=decay_rate,
        regime_code=regime_code, progress=progress)
    data |= nngp_data
    coords |= nngp_coords
    table += nngp_table
    summary |= nngp_summary
    caption = (
        "Ten handwritten digits (d = 64, p = q = 1 each, alternating GDA, eta_d = "
        f"{config.eta_d:g}, eta_g = {config.eta_g:g}, lam = {config.lam:g}, T = {config.num_steps}, "
        f"generated points start at the targets plus N(0, {config.noise:g}^2) pixel noise, f0 = 0). "
        "(a) Distance of the generated points to the data against the iteration, one line per "
        "bandwidth. (b) Top: 1 - |z| for the generator-visible rate |z| predicted by the "
        "linearization at Y* = X (colour: regime) and for the decay rate of the distance measured "
        "on the linear tail of the run (open circles, slope of its envelope); above the dashed line "
        f"the distance falls by {config.converge_ratio:g} within T steps, below it the run "
        "stalls. Bottom: |z| - 1 where the prediction is divergence. "
        "Letters on top: observed outcome "
        "(C converges, S stalls, D diverges), red where the prediction was wrong. Prediction and "
        f"outcome agree for {summary['agreement']} bandwidths. (c) W2^2 between the generated "
        "points and the digits against the iteration: Gaussian bandwidths (grey) and the ReLU NNGP "
        f"kernel (colour: depth, line style: bias; T = {config.nngp_steps}). (d) NNGP: 1 - |z| "
        "predicted at Y* = X (filled, colour: regime) and measured (open) per depth and bias, with "
        "the observed outcome on top; prediction and outcome agree for "
        f"{summary['nngp_agreement']}. (e) Targets, starting points and the generated images after "
        "T steps for some bandwidths.")
    return Result(NAME, config, data, coords, table, summary, caption)


def _image_rows(result: Result) -> list[int]:
    """Indices of the bandwidths whose final images are shown: one per observed outcome,
    plus the first mispredicted one, at most four."""
    obs, pred = result["observed_outcome"], result["predicted_outcome"]
    rows: list[int] = []
    wrong = np.flatnonzero(obs != pred)
    if wrong.size:
        rows.append(int(wrong[0]))
    for k in range(len(OUTCOMES)):
        cand = [int(i) for i in np.flatnonzero(obs == k) if int(i) not in rows]
        if cand:
            rows.append(cand[len(cand) // 2])
    return sorted(rows[:4])


def plot(result: Result):
    """(a) distance against iteration, (b) predicted and measured rates, (c) W2^2 curves,
    (d) the NNGP scan's rates, (e) images."""
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullFormatter

    from ..plotting import REGIME_COLORS, SYMBOLS, panel_label, style

    cfg = result.config
    sigmas = result["sigma"]
    steps = result["step"]
    dist = result["distance"]
    code = result["predicted_regime"]
    rows = _image_rows(result)
    norm = mcolors.LogNorm(sigmas.min(), sigmas.max())
    cmap = plt.get_cmap("cividis")
    with style():
        fig = plt.figure(figsize=(6.8, 5.4 + 0.62 * (len(rows) + 2)), layout="constrained")
        top, middle, bottom = fig.subfigures(3, 1, height_ratios=[3.0, 2.4, 0.62 * (len(rows) + 2)])
        _plot_nngp(result, middle.subplots(1, 2, width_ratios=[1.1, 1.0]))
        left, right = top.subfigures(1, 2, width_ratios=[1.1, 1.0])
        ax = left.subplots()
        bx, cx = right.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
        for i, s in enumerate(sigmas):
            ax.plot(steps, dist[i], color=cmap(norm(s)), lw=1.1)
        ax.set_yscale("log")
        ax.set_xlabel("iteration $k$")
        ax.set_ylabel(r"$|Y^k - X|$ (distance to the data)")
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        cbar = left.colorbar(sm, ax=ax, pad=0.01)
        cbar.set_label(SYMBOLS["sigma"])
        # Broken axis: 1 - |z| (log) for converging predictions on top, |z| - 1 (log) below for
        # divergent ones. Above the dashed line the run converges within T, below it it stalls.
        rate = np.abs(result["predicted"])
        measured = result["measured_rate"]
        stall = 1.0 - cfg.converge_ratio ** (1.0 / cfg.num_steps)
        conv = rate < 1
        bx.plot(sigmas[conv], 1 - rate[conv], color="0.5", lw=0.8, zorder=1)
        cx.plot(sigmas[~conv], rate[~conv] - 1, color="0.5", lw=0.8, zorder=1)
        for i, s in enumerate(sigmas):
            target, value = (bx, 1 - rate[i]) if conv[i] else (cx, rate[i] - 1)
            target.plot(s, value, ls="", marker="o", ms=5, mfc=REGIME_COLORS[REGIMES[code[i]]], mec="k",
                        mew=0.3)
        ok = np.isfinite(measured) & (measured < 1)
        bx.plot(sigmas[ok], 1 - measured[ok], ls="", marker="o", ms=8, mfc="none", mec="k", mew=0.7)
        bx.axhline(stall, color="k", lw=0.8, ls="--")
        for axis in (bx, cx):
            axis.set_xscale("log")
            axis.set_yscale("log")
            axis.set_xlim(sigmas.min() / 1.3, sigmas.max() * 1.3)
        bx.set_ylim(min(1e-9, 0.3 * float(np.nanmin(1 - rate[conv]))) if conv.any() else 1e-9, 1.0)
        bx.tick_params(labelbottom=False)
        bx.set_ylabel(r"$1 - |z|$ (converging)")
        cx.set_ylabel(r"$|z| - 1$" + "\n(divergent)")
        cx.set_xlabel(SYMBOLS["sigma"])
        cx.yaxis.set_minor_formatter(NullFormatter())
        if (~conv).any():
            cx.set_ylim(0.3 * float((rate[~conv] - 1).min()), 3 * float((rate[~conv] - 1).max()))
        bx.set_title("observed outcome (red: not the predicted one)", fontsize=6, pad=11)
        obs, pred = result["observed_outcome"], result["predicted_outcome"]
        for i, s in enumerate(sigmas):
            bx.text(s, 1.01, "CSD"[obs[i]], transform=bx.get_xaxis_transform(), ha="center", va="bottom",
                    fontsize=6.5, fontweight="bold", color="red" if obs[i] != pred[i] else "k")
        bx.text(sigmas.max(), stall * 1.6, "converges within T", ha="right", va="bottom", fontsize=6)
        bx.text(sigmas.max(), stall / 1.6, "stalls", ha="right", va="top", fontsize=6)
        present = [REGIMES[i] for i in sorted(set(code.tolist()))]
        handles = [Line2D([], [], ls="", marker="o", ms=5, mfc=REGIME_COLORS[r], mec="k", mew=0.3,
                          label=r) for r in present]
        handles += [Line2D([], [], ls="", marker="o", ms=7, mfc="none", mec="k", label="measured"),
                    Line2D([], [], color="k", ls="--", lw=0.8,
                           label=f"falls by {cfg.converge_ratio:g} in T")]
        bx.legend(handles=handles, loc="lower left", frameon=False, fontsize=6)
        panel_label(ax, "a")
        panel_label(bx, "b")
        # Images: targets, starting points, final points for a few bandwidths.
        labels = ["targets", "start"] + [rf"$\sigma$ = {sigmas[i]:.3g}" for i in rows]
        images = [result["targets"], result["initial"]] + [result["final"][i] for i in rows]
        grid = bottom.subplots(len(images), 10, gridspec_kw={"wspace": 0.05, "hspace": 0.05})
        for r, (name, imgs) in enumerate(zip(labels, images, strict=True)):
            for k in range(10):
                g = grid[r, k]
                g.imshow(np.clip(imgs[k].reshape(8, 8), 0, 1), cmap="gray_r", vmin=0, vmax=1,
                         interpolation="nearest")
                g.set_xticks([])
                g.set_yticks([])
                for side in g.spines.values():
                    side.set_visible(True)
                    side.set_linewidth(0.3)
            grid[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=6.5)
        panel_label(grid[0, 0], "e")
    return fig


def _plot_nngp(result: Result, axes) -> None:
    """(c) W2^2 curves, Gaussian and NNGP; (d) NNGP predicted and measured rates per kernel."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from ..plotting import REGIME_COLORS, panel_label

    cfg = result.config
    dx, ex = axes
    for row in result["w2"]:
        dx.plot(result["w2_step"], row, color="0.7", lw=0.7)
    depth, bias = result["nngp_depth"], result["nngp_bias"]
    depths, biases = sorted(set(depth.tolist())), sorted(set(bias.tolist()))
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, max(len(depths), 2)))
    styles = ["-", "--", ":", "-."]
    for i, row in enumerate(result["nngp_w2"]):
        dx.plot(result["nngp_w2_step"], row, lw=1.1, color=colors[depths.index(depth[i])],
                ls=styles[biases.index(bias[i]) % len(styles)])
    dx.set_yscale("log")
    dx.set_xlabel("iteration $k$")
    dx.set_ylabel(r"$W_2^2$ (generated, digits)")
    handles = [Line2D([], [], color="0.7", lw=0.7, label="gaussian")]
    handles += [Line2D([], [], color=colors[k], label=f"depth {L}") for k, L in enumerate(depths)]
    handles += [Line2D([], [], color="k", ls=styles[k % len(styles)], label=f"bias {b:g}")
                for k, b in enumerate(biases)]
    dx.legend(handles=handles, fontsize=5.5, frameon=False, loc="lower left", ncol=2)
    panel_label(dx, "c")
    rate = np.abs(result["nngp_predicted"])
    measured = result["nngp_measured_rate"]
    code = result["nngp_predicted_regime"]
    idx = np.arange(rate.size)
    for i in idx:
        ex.plot(i, max(1 - rate[i], 1e-12), ls="", marker="o", ms=5, mec="k", mew=0.3,
                mfc=REGIME_COLORS[REGIMES[code[i]]])
    ok = np.isfinite(measured) & (measured < 1)
    ex.plot(idx[ok], 1 - measured[ok], ls="", marker="o", ms=8, mfc="none", mec="k", mew=0.7)
    ex.axhline(1.0 - cfg.converge_ratio ** (1.0 / cfg.nngp_steps), color="k", lw=0.8, ls="--")
    ex.set_yscale("log")
    ex.set_xticks(idx, [f"{L},{b:g}" for L, b in zip(depth, bias, strict=True)], fontsize=5.5,
                  rotation=45)
    ex.set_xlabel("NNGP depth, bias")
    ex.set_ylabel(r"$1 - |z|$")
    obs, pred = result["nngp_observed_outcome"], result["nngp_predicted_outcome"]
    for i in idx:
        ex.text(i, 1.01, "CSD"[obs[i]], transform=ex.get_xaxis_transform(), ha="center", va="bottom",
                fontsize=6.5, fontweight="bold", color="red" if obs[i] != pred[i] else "k")
    panel_label(ex, "d")
