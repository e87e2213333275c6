"""Beyond isolated points: true points closer than a few bandwidths (theory section 7, item 5).

Two or three true points on a line, ``s`` apart, one generated point per true point,
alternating updates. Far apart (``s >> sigma``) every pair ``(true point, generated
point)`` is an isolated block and the closed forms of theory section 5 give the rate.
As ``s`` shrinks the kernel couples the blocks: the general Jacobian of theory
section 4 (at the fixed point found by Newton, which moves off the true points when
``q != p``) departs from the closed form. Both are compared with the rate measured
from the exact dynamics started at ``(f*, Y* + e0)``, ``|e0| = 1e-6 sigma``.

With ``p = q`` the fixed point stays at ``Y* = X`` (``f* = 0``) for every ``s``; the
coupling enters only through ``C``, whose cross blocks
``K(s) (1/sigma^2 - s^2/sigma^4)`` vanish at ``s = sigma`` (there the isolated rate is exact
again). With ``q < p`` the generated points are pulled towards each other and, below
about one bandwidth, merge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import isolated
from ..check import check_rates, perturbation
from ..game import GDA, KernelGAN
from ..kernels import Gaussian
from ..linearize import linearize
from ..regimes import DEFAULT_TOL, REGIMES, boundary_distance, runner_up
from ._base import Result, no_progress, polished_equilibrium, regime_code

NAME = "beyond-isolated"
DESCRIPTION = ("Rates as true points move closer than a few sigma: isolated closed form, general "
               "Jacobian and exact simulation against the separation (theory section 7.5)")


@dataclass(frozen=True)
class Config:
    """Settings of the separation sweep.

    Attributes
    ----------
    cases : tuple of (m, q)
        One column per case: ``m`` true points of weight ``p = 1`` with one generated point
        of weight ``q`` each.
    separation_range : (float, float)
        Range of ``s / sigma`` (log spaced).
    num_separations : int
    sigma, lam, eta_d, eta_g : float
        Monotone regime of the isolated model (``a = 0.5``, ``c = 0.05``), where the rate
        depends on the coupling.
    num_steps, rel_e0, noise_factor : run length, ``|e0| / sigma`` and the fit's rounding
        floor ``noise_factor eps max(1, |Y*|)`` (as in ``rate-check``).
    seed : int
    """

    cases: tuple = ((2, 1.0), (2, 0.8), (3, 1.0))
    separation_range: tuple = (0.25, 8.0)
    num_separations: int = 40
    sigma: float = 1.0
    lam: float = 1.0
    eta_d: float = 0.5
    eta_g: float = 0.1
    num_steps: int = 2500
    rel_e0: float = 1e-6
    noise_factor: float = 1e6
    seed: int = 3


QUICK = Config(num_separations=10, num_steps=1500)


def compute(config: Config = Config(), *, progress=no_progress) -> Result:
    """Sweep the separation for every case (module docstring)."""
    sep = np.geomspace(*config.separation_range, config.num_separations)
    shape = (len(config.cases), sep.size)
    iso_rate = np.empty(shape)
    gen = np.empty(shape, dtype=complex)
    gen_code = np.empty(shape, dtype=np.int8)
    measured = np.full(shape, complex(np.nan, np.nan))
    meas_code = np.full(shape, -1, dtype=np.int8)
    spread = np.empty(shape)  # max |Y* - X|: how far the fixed point moved
    locations = np.empty(shape, dtype=int)
    gap = np.empty(shape)
    rng = np.random.default_rng(config.seed)
    gda = GDA(config.eta_d, config.eta_g, "alternating")
    sigma = config.sigma
    for c, (m, q) in enumerate(progress(config.cases, total=len(config.cases), desc=NAME)):
        iso_rate[c] = isolated.eigenvalues(p=1.0, q=q, n=1, eta_d=config.eta_d, eta_g=config.eta_g,
                                           lam=config.lam, sigma=sigma).generator_rate
        gans, starts, e0s, floors = [], [], [], []
        for i, s in enumerate(sep):
            x = (np.arange(m) - (m - 1) / 2)[:, None] * s * sigma
            gan = KernelGAN(x, 1.0, Gaussian(sigma=sigma), lam=config.lam)
            eq = polished_equilibrium(gan, x, q)
            if not eq.converged:
                raise RuntimeError(f"no fixed point found for m = {m}, q = {q}, s = {s}: {eq.message}")
            lin = linearize(gan, eq, gda)
            gen[c, i] = lin.dominant
            gen_code[c, i] = regime_code(lin.regime)
            spread[c, i] = float(np.abs(eq.y - x).max())
            locations[c, i] = lin.num_locations
            gap[c, i] = boundary_distance(lin.dominant, lin.tol, runner_up=runner_up(
                lin.eigenvalues[lin.visible], lin.dominant))
            e0s.append(perturbation(eq.y.shape, config.rel_e0 * sigma, rng))
            gans.append(gan)
            starts.append(eq)
            floors.append(config.noise_factor * np.finfo(float).eps * max(1.0, float(np.abs(eq.y).max())))
        # perturbation, run, fit and label as kernelgda.check_rate, the cells batched
        res = check_rates(gans, gda, starts, config.num_steps, e0=np.array(e0s),
                          noise_floor=np.array(floors), tol=DEFAULT_TOL)
        measured[c] = res.dominant
        meas_code[c] = res.regime
    gen_rate = np.abs(gen)
    meas_rate = np.abs(measured)
    dims = ("case", "separation")
    data = {
        "isolated_rate": (dims, iso_rate), "general": (dims, gen), "general_regime": (dims, gen_code),
        "measured": (dims, measured), "measured_regime": (dims, meas_code),
        "fixed_point_shift": (dims, spread), "num_locations": (dims, locations),
        "boundary": (dims, gap),
        "m": (("case",), np.array([m for m, _ in config.cases])),
        "q": (("case",), np.array([q for _, q in config.cases], dtype=float)),
    }
    coords = {"case": np.arange(len(config.cases)), "separation": sep}
    table = []
    for c, (m, q) in enumerate(config.cases):
        for i in np.unique(np.linspace(0, sep.size - 1, min(sep.size, 6)).round().astype(int)):
            table.append({
                "m": m, "q": q, "s / sigma": float(sep[i]), "isolated rate": float(iso_rate[c, i]),
                "general rate": float(gen_rate[c, i]), "measured rate": float(meas_rate[c, i]),
                "general regime": REGIMES[gen_code[c, i]],
                "measured regime": REGIMES[meas_code[c, i]] if meas_code[c, i] >= 0 else "undetermined",
            })
    err_gen = np.abs(gen_rate - meas_rate)
    err_iso = np.abs(iso_rate - meas_rate)
    far = sep >= 6
    summary = {
        "max_error_general": float(np.nanmax(err_gen)),
        "max_error_isolated": float(np.nanmax(err_iso)),
        "max_error_isolated_far": float(np.nanmax(err_iso[:, far])) if far.any() else float("nan"),
        "regime_agreement": float((meas_code == gen_code).mean()),
        "max_error_general_gap_above_1e-3": float(np.nanmax(np.where(gap > 1e-3, err_gen, np.nan)))
        if (gap > 1e-3).any() else float("nan"),
    }
    caption = (
        f"Rates as true points (p = 1, sigma = {sigma:g}) come closer than a few bandwidths: "
        f"alternating GDA, eta_d = {config.eta_d:g}, eta_g = {config.eta_g:g}, lam = {config.lam:g}; "
        "columns are the cases (number of true points m, generated weight q). Top: isolated "
        "closed form (grey), general Jacobian at the Newton fixed point (black) and rate "
        "measured from the exact dynamics (markers in the colour of the measured regime) against "
        "the separation s / sigma. Bottom: distance of each prediction to the measurement; the "
        f"general Jacobian stays within {summary['max_error_general']:.0e} while the isolated "
        f"closed form is off by up to {summary['max_error_isolated']:.2f} once the points couple. "
        "Its largest errors sit where the blocks nearly decouple (s of 4 to 6 sigma): there the "
        "two slowest modes differ in modulus by a gap b (dotted) below 1e-3, a finite run cannot "
        "tell them apart and the fitted rate is a blend of the two.")
    return Result(NAME, config, data, coords, table, summary, caption)


def plot(result: Result):
    """Two rows (rates; errors) by one column per case."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullFormatter

    from ..plotting import REGIME_COLORS, new_figure, panel_label, style

    sep = result["separation"]
    ms, qs = result["m"], result["q"]
    iso, gen, meas = result["isolated_rate"], np.abs(result["general"]), np.abs(result["measured"])
    code = result["measured_regime"]
    ncase = len(ms)
    with style():
        fig, axes = new_figure(2, ncase, width=6.8, height=4.1, sharex=True, squeeze=False,
                               gridspec_kw={"height_ratios": [1.6, 1.0]})
        letters = iter("abcdefghij")
        for c in range(ncase):
            ax, bx = axes[0, c], axes[1, c]
            ax.plot(sep, iso[c], color="0.6", lw=1.4, label="isolated closed form")
            ax.plot(sep, gen[c], color="k", lw=1.0, label="general Jacobian")
            for i, regime in enumerate(REGIMES):
                sel = code[c] == i
                if sel.any():
                    ax.plot(sep[sel], meas[c][sel], ls="", marker="o", ms=3.2, mfc=REGIME_COLORS[regime],
                            mec="k", mew=0.3)
            ax.axvline(1.0, color="0.8", lw=0.6, zorder=0)
            ax.set_title(rf"$m = {ms[c]}$ true points, $q = {qs[c]:g}$")
            floor = 1e-16
            bx.plot(sep, np.clip(np.abs(iso[c] - meas[c]), floor, None), color="0.6", lw=1.4)
            bx.plot(sep, np.clip(np.abs(gen[c] - meas[c]), floor, None), color="k", lw=1.0)
            bx.plot(sep, np.clip(result["boundary"][c], floor, None), color="k", lw=0.8, ls=":")
            bx.set_yscale("log")
            bx.set_ylim(floor / 2, 1.0)
            bx.set_xscale("log")
            bx.set_xticks([0.25, 0.5, 1, 2, 4, 8], labels=["0.25", "0.5", "1", "2", "4", "8"])
            bx.xaxis.set_minor_formatter(NullFormatter())
            bx.set_xlabel(r"separation $s / \sigma$")
            if c == 0:
                ax.set_ylabel(r"generator-visible rate $|z|$")
                bx.set_ylabel(r"$|\,|z| - |z|_{\rm measured}|$")
            panel_label(ax, next(letters))
            panel_label(bx, next(letters))
        present = [REGIMES[i] for i in sorted(set(code.ravel().tolist())) if i >= 0]
        handles = [Line2D([], [], color="0.6", lw=1.4, label="isolated closed form"),
                   Line2D([], [], color="k", lw=1.0, label="general Jacobian"),
                   Line2D([], [], color="k", lw=0.8, ls=":", label="gap $b$ to next mode")]
        handles += [Line2D([], [], ls="", marker="o", ms=4, mfc=REGIME_COLORS[r], mec="k", mew=0.3,
                           label=f"measured: {r}") for r in present]
        fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
    return fig
