"""Rate check: predicted generator-visible rate against the rate measured in the exact dynamics.

Theory section 7, item 1. For each of ``num_configs`` random kernel GANs (isolated
clusters and coupled true points closer than a few ``sigma``, both update orders,
generated mass above and below the true mass, some with ``lam = 0``) we find the fixed
point ``(f*, Y*)`` by Newton, linearize there (theory section 4), start the exact
dynamics at ``(f*, Y* + e0)`` with ``|e0| = 1e-6 sigma`` and fit the dominant
eigenvalue to the error sequence (Hankel dynamic mode decomposition over the
linear, above-rounding part of the run). The predicted eigenvalue is the dominant
generator-visible eigenvalue of ``J``; for the isolated and ``lam = 0`` families the closed
forms of theory section 5 give it too (``closed_form_rate``), an independent check of ``J``.

Near a regime boundary the comparison is ill-posed (a double root is defective, a
rate of modulus one neither decays nor grows, two modes of nearly equal modulus blend),
so each configuration records its *boundary distance* ``b``: the distance of the
dominant predicted eigenvalue ``z`` to the label boundaries of theory section 6 at the
labels' tolerance, or to the modulus of the next visible eigenvalue
(:func:`kernelgda.regimes.boundary_distance`); "away from boundaries" means
``b > boundary_margin``. Perturbation, run, fit and label are
:func:`kernelgda.check_rate`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import isolated
from ..check import check_rate, perturbation
from ..game import GDA, KernelGAN
from ..kernels import Gaussian
from ..linearize import linearize
from ..regimes import DEFAULT_TOL, REGIMES, boundary_distance, runner_up
from ._base import Result, no_progress, polished_equilibrium, regime_code

NAME = "rate-check"
DESCRIPTION = ("Predicted generator-visible rate vs the rate measured from the exact dynamics, "
               "over random configurations (theory section 7.1)")

FAMILIES = ("isolated", "coupled", "lam0", "flipping")
#: Fewest steps the measurement window must span; a faster divergence (rate above
#: ``1000^(1/15) = 1.58``) crosses it too quickly for a fit and is redrawn.
MIN_WINDOW = 15


@dataclass(frozen=True)
class Config:
    """Settings of the rate check.

    Attributes
    ----------
    num_configs : int
        Number of random configurations kept (each with a converged fixed point and a
        measurement window that fits in ``max_steps``).
    seed : int
    rel_e0 : float
        ``|e0| / sigma`` of the initial perturbation when the predicted rate is at most one
        (theory section 7: 1e-6).
    rel_e0_growing, growth_limit : float
        ``|e0| / sigma`` and the fit's linear limit ``/ sigma`` when the predicted rate
        exceeds one (see :func:`measurement_window`).
    noise_factor : float
        The fit ignores errors below ``noise_factor eps max(1, |Y*|)``. At 1e7 (100 times
        the library default) the rounding of the last fitted errors, about
        ``eps |Y*| / floor = 1e-7`` of the signal, sits at the fit's singular-value
        cut-off (``kernelgda.measure.SVD_RTOL``), so no noise direction enters the fit and
        produces a spurious eigenvalue; the window still spans 2.5 decades.
    max_steps : int
        Longest run; configurations whose predicted rate needs more steps to cross the
        measurement window are redrawn (so rates within about 1e-3 of 1 are rare).
    boundary_margin : float
        Boundary distance ``b`` (module docstring) above which a configuration counts as
        away from regime boundaries.
    """

    num_configs: int = 240
    seed: int = 20230514
    rel_e0: float = 1e-6
    rel_e0_growing: float = 1e-8
    growth_limit: float = 1e-4
    noise_factor: float = 1e6
    max_steps: int = 3000
    boundary_margin: float = 1e-3


QUICK = Config(num_configs=24, max_steps=1200)


@dataclass(frozen=True)
class Case:
    """One random configuration: the game, the fixed point's starting guess and the GDA."""

    family: str
    gan: KernelGAN
    y0: np.ndarray
    q: np.ndarray
    gda: GDA
    blocks: tuple = ()  # isolated families: (p_i, q_i, n_i) per cluster


def closed_form_rate(case: Case) -> float:
    """Generator-visible rate of an isolated or ``lam = 0`` case from the closed forms of theory
    section 5: the largest over its clusters (separate blocks); ``nan`` for coupled cases."""
    if not case.blocks:
        return float("nan")
    g = case.gda
    return float(max(isolated.eigenvalues(p=p, q=q, n=n, eta_d=g.eta_d, eta_g=g.eta_g, lam=case.gan.lam,
                                          sigma=case.gan.kernel.sigma, mode=g.mode).generator_rate
                     for p, q, n in case.blocks))


def _line(rng, m, d, spacing):
    """``m`` points along a random direction, consecutive ones ``spacing[i]`` apart."""
    direction = rng.normal(size=d)
    direction /= np.linalg.norm(direction)
    offsets = np.concatenate([[0.0], np.cumsum(spacing)])
    return offsets[:, None] * direction + rng.normal(scale=0.1, size=d)


def draw_case(rng: np.random.Generator) -> Case:
    """One random configuration of the four families.

    ``isolated``: one or two clusters 12 sigma apart, one to three generated points each,
    mass mismatch of either sign or none; ``coupled``: two or three true points 0.7 to
    2.5 sigma apart, one generated point each, mismatch of either sign; ``lam0``: isolated
    clusters with ``lam = 0`` and matched mass (cycling or divergent); ``flipping``: one
    generated point on one true point, matched mass, alternating, with ``c`` drawn inside
    the narrow flipping band ``(1 + sqrt(1 - a))^2 < c < 2 (2 - a)`` (theory section 5),
    which random learning rates almost never hit.
    """
    family = FAMILIES[rng.choice(4, p=[0.40, 0.40, 0.10, 0.10])]
    d = int(rng.integers(1, 3))
    sigma = 10 ** rng.uniform(-0.5, 0.5)
    mode = ("alternating", "simultaneous")[int(rng.integers(2))]
    eta_d = 10 ** rng.uniform(-1.3, 0.0)
    eta_g = 10 ** rng.uniform(-1.3, 0.3)
    if family == "flipping":
        lam = 10 ** rng.uniform(-1.0, 0.5)
        eta_d = float(rng.uniform(0.5, 1.0) / lam)  # a = eta_d lam in (0.5, 1): a wider band
        a = eta_d * lam
        c = rng.uniform((1 + np.sqrt(1 - a)) ** 2, 2 * (2 - a))
        p = np.array([rng.uniform(0.5, 1.5)])
        eta_g = float(c * sigma**2 / (eta_d * p[0] ** 2))
        x = _line(rng, 1, d, [])
        gan = KernelGAN(x, p, Gaussian(sigma=sigma), lam=lam)
        return Case(family, gan, x.copy(), p.copy(), GDA(eta_d, eta_g, "alternating"),
                    ((float(p[0]), float(p[0]), 1),))
    if family == "coupled":  # true points a fraction of sigma to a few sigma apart
        m = int(rng.integers(2, 4))
        x = _line(rng, m, d, sigma * rng.uniform(0.7, 2.5, size=m - 1))
        p = rng.uniform(0.5, 1.5, size=m)
        q = p * (1 + rng.uniform(-0.3, 0.3, size=m))
        y0 = x.copy()
        lam = 10 ** rng.uniform(-1.0, 0.5)
    else:  # clusters 12 sigma apart: the isolated points model, one block per cluster
        m = int(rng.integers(1, 3))
        x = _line(rng, m, d, np.full(m - 1, 12 * sigma))
        p = rng.uniform(0.5, 1.5, size=m)
        per = rng.integers(1, 4, size=m)
        if family == "lam0":
            mismatch = np.zeros(m)
            lam = 0.0
        else:
            mismatch = np.where(rng.random(m) < 0.2, 0.0, rng.uniform(-0.3, 0.3, size=m))
            lam = 10 ** rng.uniform(-1.0, 0.5)
        q = np.concatenate([np.full(k, pi * (1 + u) / k) for k, pi, u in zip(per, p, mismatch,
                                                                               strict=True)])
        y0 = np.repeat(x, per, axis=0)
        blocks = tuple((float(pi), float(pi * (1 + u) / k), int(k))
                       for k, pi, u in zip(per, p, mismatch, strict=True))
    gan = KernelGAN(x, p, Gaussian(sigma=sigma), lam=lam)
    return Case(family, gan, y0, q, GDA(eta_d, eta_g, mode), blocks if family != "coupled" else ())


@dataclass(frozen=True)
class Window:
    """How one run is started and which part of it is fitted (theory section 7).

    Attributes
    ----------
    e0 : float
        ``|e0|``.
    linear_limit, noise_floor : float
        Bounds on ``|e_k|`` of the fitted stretch.
    num_steps : int
        Length of the run: 1.3 times the steps the error needs to cross the window,
        plus 60.
    """

    e0: float
    linear_limit: float
    noise_floor: float
    num_steps: int


def measurement_window(rate: float, sigma: float, y_star: np.ndarray, config: Config) -> Window | None:
    """The run and fit window for a predicted rate, or ``None`` when it does not fit ``max_steps``.

    Decaying and neutral runs start at ``|e0| = rel_e0 sigma`` and are fitted between
    ``noise_factor eps max(1, |Y*|)`` and ``1e-3 sigma``; growing runs start lower, at
    ``rel_e0_growing sigma``, and are fitted below ``growth_limit sigma``, so that a fast
    divergence still spans several decades while second-order terms stay below about
    ``1e-4`` of the signal. A run at modulus one keeps its size: 400 steps.
    """
    floor = config.noise_factor * np.finfo(float).eps * max(1.0, float(np.abs(y_star).max()))
    if rate > 1 + 1e-9:
        e0, limit = config.rel_e0_growing * sigma, config.growth_limit * sigma
        floor = min(floor, 0.1 * e0)
        need = math.log(limit / e0) / math.log(rate)
    else:
        e0, limit = config.rel_e0 * sigma, 1e-3 * sigma
        need = 400.0 if rate > 1 - 1e-9 else math.log(floor / e0) / math.log(max(rate, 1e-3))
    num_steps = int(1.3 * need + 60)
    if need < MIN_WINDOW or num_steps > config.max_steps:
        return None
    return Window(e0, limit, floor, num_steps)


def prediction_boundary(lin) -> float:
    """``b`` of the module docstring, from the linearization's visible eigenvalues."""
    return float(boundary_distance(lin.dominant, lin.tol,
                                   runner_up=runner_up(lin.eigenvalues[lin.visible], lin.dominant)))


def run_case(case: Case, config: Config, rng: np.random.Generator) -> dict | None:
    """Fixed point, prediction and measurement for one case (``None`` when it must be redrawn)."""
    eq = polished_equilibrium(case.gan, case.y0, case.q)
    if not eq.converged:
        return None
    lin = linearize(case.gan, eq, case.gda)
    sigma = case.gan.kernel.sigma
    win = measurement_window(lin.generator_rate, sigma, eq.y, config)
    if win is None:
        return None
    # e0 of norm win.e0 in a direction drawn from rng; labels at the prediction's tolerance
    res = check_rate(case.gan, eq, case.gda, num_steps=win.num_steps,
                     e0=perturbation(eq.y.shape, win.e0, rng), linear_limit=win.linear_limit,
                     noise_floor=win.noise_floor, tol=DEFAULT_TOL, linearization=lin)
    meas = res.measured
    num_steps = win.num_steps
    return {
        "family": case.family, "mode": case.gda.mode, "m": case.gan.m, "n": eq.y.shape[0],
        "d": case.gan.d, "sigma": sigma, "lam": case.gan.lam, "eta_d": case.gda.eta_d,
        "eta_g": case.gda.eta_g, "delta": float(case.gan.p_true.sum() - case.q.sum()),
        "predicted": lin.dominant, "measured": meas.dominant,
        "predicted_rate": lin.generator_rate, "measured_rate": meas.rate,
        "closed_form_rate": closed_form_rate(case),
        "predicted_regime": lin.regime, "measured_regime": res.measured_regime,
        "boundary": prediction_boundary(lin), "steps": num_steps,
        "truncation_bound": res.trajectory.truncation_bound,
    }


def compute(config: Config = Config(), *, progress=no_progress) -> Result:
    """Run the rate check (module docstring)."""
    rng = np.random.default_rng(config.seed)
    rows: list[dict] = []
    redrawn = 0
    bar = progress(range(config.num_configs), total=config.num_configs, desc=NAME)
    for _ in bar:
        while True:
            row = run_case(draw_case(rng), config, rng)
            if row is not None:
                break
            redrawn += 1
        rows.append(row)

    def col(key, dtype=float):
        return np.array([r[key] for r in rows], dtype=dtype)

    pred, meas = col("predicted", complex), col("measured", complex)
    err = np.abs(col("measured_rate") - col("predicted_rate"))
    away = col("boundary") > config.boundary_margin
    pred_code = np.array([regime_code(r["predicted_regime"]) for r in rows], dtype=np.int8)
    meas_code = np.array([regime_code(r["measured_regime"]) for r in rows], dtype=np.int8)
    dim = ("config",)
    data = {
        "predicted": (dim, pred), "measured": (dim, meas),
        "predicted_rate": (dim, col("predicted_rate")), "measured_rate": (dim, col("measured_rate")),
        "closed_form_rate": (dim, col("closed_form_rate")),
        "rate_error": (dim, err), "boundary": (dim, col("boundary")), "away": (dim, away),
        "predicted_regime": (dim, pred_code), "measured_regime": (dim, meas_code),
        "family": (dim, np.array([FAMILIES.index(r["family"]) for r in rows], dtype=np.int8)),
        "simultaneous": (dim, col("mode", object) == "simultaneous"),
        "m": (dim, col("m", int)), "n": (dim, col("n", int)), "d": (dim, col("d", int)),
        "sigma": (dim, col("sigma")), "lam": (dim, col("lam")), "eta_d": (dim, col("eta_d")),
        "eta_g": (dim, col("eta_g")), "delta": (dim, col("delta")), "steps": (dim, col("steps", int)),
        "truncation_bound": (dim, col("truncation_bound")),
    }
    coords = {"config": np.arange(len(rows))}
    table = []
    for regime in REGIMES:
        sel = pred_code == REGIMES.index(regime)
        if not sel.any():
            continue
        sa = sel & away
        table.append({
            "predicted regime": regime, "configs": int(sel.sum()), "away from boundary": int(sa.sum()),
            "regime agrees": f"{int((meas_code[sel] == pred_code[sel]).sum())}/{int(sel.sum())}",
            "median |error|": float(np.median(err[sel])),
            "max |error| (away)": float(err[sa].max()) if sa.any() else float("nan"),
        })
    finite = np.isfinite(err)
    summary = {
        "configs": len(rows), "redrawn": redrawn, "away_from_boundary": int(away.sum()),
        "median_error": float(np.median(err[finite])) if finite.any() else float("nan"),
        "max_error_away": float(err[away].max()) if away.any() else float("nan"),
        "max_error_all": float(err.max()),
        "regime_agreement_away": float((meas_code[away] == pred_code[away]).mean()) if away.any()
        else float("nan"),
        "isolated": int(sum(r["family"] != "coupled" for r in rows)),
        "flipping_band": int(sum(r["family"] == "flipping" for r in rows)),
        "coupled": int(sum(r["family"] == "coupled" for r in rows)),
        "simultaneous": int(sum(r["mode"] == "simultaneous" for r in rows)),
        "negative_mismatch": int(sum(r["delta"] < -1e-12 for r in rows)),
        "positive_mismatch": int(sum(r["delta"] > 1e-12 for r in rows)),
    }
    caption = (
        f"Rate check over {len(rows)} random kernel GANs ({summary['isolated']} isolated or "
        f"lam = 0, of which {summary['flipping_band']} drawn in the flipping band, "
        f"{summary['coupled']} coupled; {summary['simultaneous']} simultaneous; mass "
        f"mismatch of both signs). (a) Measured against predicted generator-visible rate |z|, "
        f"coloured by the predicted regime. (b) Absolute error against the distance b to the "
        f"nearest regime boundary; away from boundaries (b > {config.boundary_margin:g}) the "
        f"largest error is {summary['max_error_away']:.1e} and the median over all "
        f"{summary['median_error']:.1e}.")
    return Result(NAME, config, data, coords, table, summary, caption)


def plot(result: Result):
    """(a) measured against predicted rate; (b) error against boundary distance."""
    from ..plotting import REGIME_COLORS, SYMBOLS, new_figure, panel_label, regime_handles, style

    pr, mr = result["predicted_rate"], result["measured_rate"]
    err, bnd = result["rate_error"], result["boundary"]
    code = result["predicted_regime"]
    coupled = result["family"] == FAMILIES.index("coupled")

    margin = result.config.boundary_margin
    with style():
        fig, (ax0, ax1) = new_figure(1, 2, width=6.8, height=2.8)
        lo, hi = 0.9 * np.nanmin(pr), 1.02 * np.nanmax(pr)
        ax0.plot([lo, hi], [lo, hi], color="0.6", lw=0.8, zorder=0)
        floor = 1e-16
        for i, regime in enumerate(REGIMES):
            for cpl, marker in ((False, "o"), (True, "^")):
                sel = (code == i) & (coupled == cpl)
                if not sel.any():
                    continue
                kw = dict(color=REGIME_COLORS[regime], marker=marker, s=12, alpha=0.85, lw=0.3,
                          edgecolor="white")
                ax0.scatter(pr[sel], mr[sel], **kw)
                ax1.scatter(np.maximum(bnd[sel], 1e-12), np.maximum(err[sel], floor), **kw)
        ax0.set_xlim(lo, hi)
        ax0.set_ylim(lo, hi)
        ax0.set_xlabel("predicted " + SYMBOLS["generator_rate"])
        ax0.set_ylabel(r"measured $|z|$ (exact dynamics)")
        ax0.set_aspect("equal")
        ax1.set_xscale("log")
        ax1.set_yscale("log")
        ax1.axhline(1e-3, color="k", lw=0.8, ls="--")
        ax1.axvline(margin, color="0.5", lw=0.8, ls=":")
        ax1.text(0.98, 1.5e-3, r"$10^{-3}$", transform=ax1.get_yaxis_transform(), ha="right",
                 va="bottom", fontsize=7)
        ax1.annotate("on a boundary:\n$b = 0$, $|z| = 1$", xy=(1e-12, 1e-14), xytext=(1e-10, 1e-14),
                     fontsize=6, va="center", arrowprops=dict(arrowstyle="-", color="0.5", lw=0.6))
        ax1.set_xlabel(r"distance to nearest regime boundary $b$ (clipped at $10^{-12}$)")
        ax1.set_ylabel(r"$|\,|z|_{\rm measured} - |z|_{\rm predicted}|$")
        present = [REGIMES[i] for i in sorted(set(code.tolist())) if i >= 0]
        handles = regime_handles(present)
        from matplotlib.lines import Line2D

        handles += [Line2D([], [], ls="", marker="o", color="0.4", label="isolated / $\\lambda=0$"),
                    Line2D([], [], ls="", marker="^", color="0.4", label="coupled")]
        fig.legend(handles=handles, loc="outside right center", frameon=False)
        panel_label(ax0, "a")
        panel_label(ax1, "b")
    return fig
