"""Two-point runs, the authors' setting (theory section 7, item 4).

One true point at 0 and one generated point at 0.1 in d = 1, ``p = q = 1``,
alternating updates, ``T = 1000`` steps from ``f0 = 0``, over a grid of bandwidths,
regularizations and learning-rate pairs. Each panel shows the squared distance
``|y^k - y*|^2`` of the exact dynamics next to the linear prediction.

The linear prediction from ``f0 = 0``. With ``p = q`` and ``y* = x`` the fixed point has
``f* = (K(., x) p - K(., y*) q) / lam = 0``, so the start ``(f0, y0) = (0, 0.1)`` is
``(f* + g0, y* + e0)`` with ``g0 = 0`` and ``e0 = 0.1``: on the reduced state of theory
section 4 it is ``(B0, e0) = (grad g0(y*), e0) = (0, 0.1)``, which is where
:meth:`~kernelgda.Linearization.iterate` starts. (In general ``g0 = -f*`` has a part
outside the reduced state; that part decays by ``1 - eta_d lam`` per step and never
feeds back into the linear model, so ``(B0, e0)`` alone is the exact linear
prediction.) The linear model is ``e^k = [J^k (0, e0)]_e``.

With ``sigma = 0.1`` the start is one bandwidth away, outside the linear regime: where
the two curves part is where the local theory stops holding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..batch import simulate_batch
from ..equilibrium import find_equilibrium
from ..game import GDA, KernelGAN
from ..kernels import Gaussian
from ..linearize import linearize
from ..regimes import REGIMES
from ..smm import from_points
from ..status import Status
from ._base import Result, no_progress, regime_code

NAME = "two-point"
DESCRIPTION = ("Two-point runs (d = 1, true point 0, generated point 0.1, p = q = 1): squared "
               "distance of the exact dynamics with the linear model overlaid (theory section 7.4)")


@dataclass(frozen=True)
class Config:
    """Settings of the two-point runs (defaults: the authors' grid)."""

    sigmas: tuple = (0.1, 1.0, 10.0)
    lams: tuple = (1.0, 0.1, 0.01)
    learning_rates: tuple = ((1.0, 0.1), (0.1, 0.1), (0.1, 0.01), (0.01, 0.01))
    num_steps: int = 1000
    y0: float = 0.1
    p: float = 1.0
    q: float = 1.0
    mode: str = "alternating"


QUICK = Config(num_steps=300)


def compute(config: Config = Config(), *, progress=no_progress) -> Result:
    """Exact runs from ``f0 = 0`` and the linear model (module docstring)."""
    sigmas = np.asarray(config.sigmas, dtype=float)
    lams = np.asarray(config.lams, dtype=float)
    pairs = np.asarray(config.learning_rates, dtype=float)
    shape = (len(pairs), len(lams), len(sigmas))
    num_steps = config.num_steps
    exact = np.full(shape + (num_steps + 1,), np.nan)
    linear = np.empty(shape + (num_steps + 1,))
    smm = np.empty(shape + (num_steps + 1,))
    dominant = np.empty(shape, dtype=complex)
    code = np.empty(shape, dtype=np.int8)
    measured = np.full(shape, complex(np.nan, np.nan))
    diverged_at = np.full(shape, -1)
    e0 = np.array([[config.y0]])
    for i, (eta_d, eta_g) in enumerate(progress(pairs, total=len(pairs), desc=NAME)):
        gda = GDA(eta_d, eta_g, config.mode)
        gans, cells = [], []
        for j, lam in enumerate(lams):
            for k, sigma in enumerate(sigmas):
                gan = KernelGAN([[0.0]], config.p, Gaussian(sigma=sigma), lam=lam)
                eq = find_equilibrium(gan, [[0.0]], config.q)
                lin = linearize(gan, eq, gda)
                with np.errstate(over="ignore", invalid="ignore"):  # divergent: inf, then nan
                    linear[i, j, k] = (lin.iterate(e0, num_steps)[:, 0, 0]) ** 2
                # The second-moment model with one point (no spread): the quadratic one-point
                # model of theory section 9, from f0 = 0 like the exact run.
                with np.errstate(over="ignore", invalid="ignore"):
                    smm[i, j, k] = from_points(gan, gda, e0, config.q, num_steps,
                                               start="zero").e[:, 0] ** 2
                dominant[i, j, k] = lin.dominant
                code[i, j, k] = regime_code(lin.regime)
                gans.append(gan)
                cells.append((j, k))
        runs = simulate_batch(gans, gda, [[config.y0]], config.q, num_steps)
        meas = runs.measure(np.zeros((len(gans), 1, 1)))
        for b, (j, k) in enumerate(cells):
            taken = runs.num_taken[b]
            exact[i, j, k, :taken + 1] = runs.y[b, :taken + 1, 0, 0] ** 2
            measured[i, j, k] = meas.dominant[b]
            if runs.status[b] == Status.DIVERGED:
                diverged_at[i, j, k] = taken
    dims = ("pair", "lam", "sigma")
    data = {
        "exact_sq": (dims + ("step",), exact), "linear_sq": (dims + ("step",), linear),
        "smm_sq": (dims + ("step",), smm),
        "predicted": (dims, dominant), "predicted_regime": (dims, code),
        "measured": (dims, measured), "diverged_at": (dims, diverged_at),
        "eta_d": (("pair",), pairs[:, 0]), "eta_g": (("pair",), pairs[:, 1]),
    }
    coords = {"pair": np.arange(len(pairs)), "lam": lams, "sigma": sigmas,
              "step": np.arange(num_steps + 1)}
    table = []
    for idx in np.ndindex(shape):
        i, j, k = idx
        ex, li = exact[idx], linear[idx]
        # Deviation of the exact run from the linear model while both are finite, relative
        # to the starting distance.
        ok = np.isfinite(ex) & np.isfinite(li)
        dev = float(np.max(np.abs(np.sqrt(ex[ok]) - np.sqrt(li[ok])))) / abs(config.y0)
        sm = smm[idx]
        ok_s = np.isfinite(ex) & np.isfinite(sm)
        dev_s = float(np.max(np.abs(np.sqrt(ex[ok_s]) - np.sqrt(sm[ok_s])))) / abs(config.y0)
        table.append({
            "eta_d": float(pairs[i, 0]), "eta_g": float(pairs[i, 1]), "lam": float(lams[j]),
            "sigma": float(sigmas[k]), "predicted regime": REGIMES[code[idx]],
            "predicted rate": float(abs(dominant[idx])),
            "measured rate": float(abs(measured[idx])),
            "final |y - y*|": float(np.sqrt(ex[ok][-1])) if ok.any() else float("nan"),
            "diverged at step": int(diverged_at[idx]) if diverged_at[idx] >= 0 else "",
            "max |exact - linear| / |e0|": dev,
            "max |exact - SMM| / |e0|": dev_s,
        })
    devs = np.array([row["max |exact - linear| / |e0|"] for row in table]).reshape(shape)
    devs_s = np.array([row["max |exact - SMM| / |e0|"] for row in table]).reshape(shape)
    summary = {
        # sigma < 1 (the start is a bandwidth away): runs where the SMM is closer to the exact run
        "smm_closer_sigma_lt_1": int((devs_s < devs)[:, :, sigmas < 1].sum()),
        "runs_sigma_lt_1": int(devs[:, :, sigmas < 1].size),
        # runs in which the SMM leaves the scale of the problem (|e| > 10 |e0|: it blows up)
        "smm_blows_up_sigma_lt_1": int((~(devs_s <= 10))[:, :, sigmas < 1].sum()),
        "runs": int(np.prod(shape)), "diverged": int((diverged_at >= 0).sum()),
        "predicted_divergent": int((code == REGIMES.index("divergent")).sum()),
        "max_deviation_sigma_ge_1": float(devs[:, :, sigmas >= 1].max()) if (sigmas >= 1).any()
        else float("nan"),
        "max_deviation_sigma_lt_1": float(devs[:, :, sigmas < 1].max()) if (sigmas < 1).any()
        else float("nan"),
    }
    caption = (
        f"Two-point runs (d = 1, true point at 0, generated point at {config.y0:g}, p = q = 1, "
        f"{config.mode}, T = {num_steps}, f0 = 0): squared distance to the target against the "
        "iteration, exact dynamics (solid), linear model (dashed) and the second-moment model of "
        "theory section 9 with one point (dash-dotted, the quadratic one-point model) for three "
        "bandwidths; rows "
        "are learning-rate pairs (eta_d, eta_g), columns lam; curves are upper envelopes (running "
        f"maximum over {2 * ENVELOPE + 1} steps) so that the zero crossings of oscillating runs do "
        "not hide them; values below 1e-34 are not drawn. Above each panel, the regime the "
        "linearization predicts for each bandwidth, in its regime colour. Where sigma is at least 1 "
        "the start is within a tenth of a bandwidth and the curves coincide (largest deviation "
        f"{summary['max_deviation_sigma_ge_1']:.1e} of |e0|); with sigma = 0.1 the start is one "
        "bandwidth away and the exact run leaves the linear prediction: it escapes and stalls where "
        "the linear model diverges, and where it converges it can do so faster than predicted, "
        "because the discriminator built during the transient is far from f* and slowly decays "
        "(by 1 - eta_d lam per step), a part of the state the linear model assumes small. With "
        f"sigma < 1 the SMM is closer to the exact run than the linear model in "
        f"{summary['smm_closer_sigma_lt_1']} of {summary['runs_sigma_lt_1']} runs and blows up in "
        f"{summary['smm_blows_up_sigma_lt_1']} (where the exact point escapes and stalls).")
    return Result(NAME, config, data, coords, table, summary, caption)


#: Half-width of the running-maximum envelope drawn for each curve.
ENVELOPE = 10

#: Line colours of the bandwidths (sequential blues, distinct from the regime colours).
SIGMA_COLORS = ("#08306b", "#2171b5", "#6baed6", "#9ecae1")

_SHORT = {"monotone": "mono", "oscillatory": "osc", "flipping": "flip", "neutral": "neutral",
          "cycling": "cyc", "divergent": "div"}


def _envelope(values: np.ndarray, maximum_filter1d) -> np.ndarray:
    """Running maximum over ``2 ENVELOPE + 1`` steps; ``nan`` (after a divergence) stays ``nan``."""
    finite = np.isfinite(values)
    env = maximum_filter1d(np.where(finite, values, -np.inf), size=2 * ENVELOPE + 1, mode="nearest")
    return np.where(finite, env, np.nan)


def plot(result: Result):
    """A grid of panels: rows learning-rate pairs, columns ``lam``, lines bandwidths."""
    from matplotlib.lines import Line2D
    from scipy.ndimage import maximum_filter1d

    from ..plotting import REGIME_COLORS, new_figure, style

    sigmas, lams = result["sigma"], result["lam"]
    steps = result["step"]
    eta_d, eta_g = result["eta_d"], result["eta_g"]
    exact, linear = result["exact_sq"], result["linear_sq"]
    smm = result["smm_sq"] if "smm_sq" in result.data else None
    code = result["predicted_regime"]
    lo, hi = 1e-34, 1e4
    with style():
        fig, axes = new_figure(len(eta_d), len(lams), width=6.8, height=1.55 * len(eta_d) + 0.6,
                               sharex=True, sharey=True, squeeze=False)
        for i in range(len(eta_d)):
            for j, lam in enumerate(lams):
                ax = axes[i, j]
                for k, sigma in enumerate(sigmas):
                    color = SIGMA_COLORS[k % len(SIGMA_COLORS)]
                    ex = _envelope(exact[i, j, k], maximum_filter1d)
                    ax.plot(steps, np.where(ex >= lo, ex, np.nan), color=color, lw=1.4)
                    li = _envelope(linear[i, j, k], maximum_filter1d)
                    li = np.where((li < hi * 10) & (li >= lo), li, np.nan)
                    ax.plot(steps, li, color="white", lw=1.4, alpha=0.7)
                    ax.plot(steps, li, color=color, lw=0.9, ls=(0, (3, 2)))
                    if smm is not None:
                        sm = _envelope(smm[i, j, k], maximum_filter1d)
                        sm = np.where((sm < hi * 10) & (sm >= lo), sm, np.nan)
                        ax.plot(steps, sm, color=color, lw=0.8, ls=(0, (5, 1.5, 1, 1.5)), alpha=0.9)
                    regime = REGIMES[code[i, j, k]]
                    ax.text(k / len(sigmas), 1.02, rf"$\sigma$={sigma:g}: {_SHORT[regime]}",
                            transform=ax.transAxes, ha="left", va="bottom", fontsize=6,
                            color=REGIME_COLORS[regime], fontweight="bold")
                ax.set_yscale("log")
                ax.set_ylim(lo, hi)
                ax.set_xlim(steps[0], steps[-1])
                ax.set_yticks([1e-30, 1e-20, 1e-10, 1e0])
                if i == 0:
                    ax.set_title(rf"$\lambda = {lam:g}$", pad=12)
                if j == 0:
                    ax.set_ylabel(rf"$(\eta_d, \eta_g) = ({eta_d[i]:g}, {eta_g[i]:g})$" + "\n"
                                  + r"$|y^k - y^*|^2$")
                if i == len(eta_d) - 1:
                    ax.set_xlabel("iteration $k$")
        handles = [Line2D([], [], color=SIGMA_COLORS[k % len(SIGMA_COLORS)], lw=1.3,
                          label=rf"$\sigma = {s:g}$") for k, s in enumerate(sigmas)]
        handles += [Line2D([], [], color="0.3", lw=1.4, label="exact dynamics"),
                    Line2D([], [], color="0.3", lw=0.9, ls=(0, (3, 2)), label="linear model"),
                    Line2D([], [], color="0.3", lw=0.8, ls=(0, (5, 1.5, 1, 1.5)), label="SMM")]
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    return fig
