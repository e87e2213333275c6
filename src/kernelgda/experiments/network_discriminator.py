"""Network discriminators: when a two-layer network GAN converges like the kernel GAN of its tangent kernel.

Theory section 13. A two-layer erf network (``kg.NetworkDiscriminator``, antisymmetric
initialization, weight decay ``lam`` toward it) trains against one generated point near one
true point, in ``d = 1`` and ``d = 2``, with matched mass (``q = p = 1``) and a mismatch
(``q = 0.8``), at widths from 16 to 16384 and a few seeds each:

- *rates*: the run starts ``r0`` from the network's own fixed point
  (:meth:`~kernelgda.NetworkDiscriminator.equilibrium`; at matched mass the perfect fit) and
  its eigenvalues are fitted on ``noise_floor < |e| < r0`` (the Hankel fit of theory section 4).
  They are compared with ``kg.linearize`` at the fixed point of the network's empirical tangent
  kernel ``Theta_h`` and of the analytic NTK. In ``d = 1`` the dominant rate is compared; in
  ``d = 2``, where two generator modes have nearby rates, the two dominant fitted eigenvalues
  against the two dominant visible predicted ones.
- *fixed points*: with ``q = 0.8`` the network's fixed point against the ``Theta_h`` and the
  analytic-NTK ones and the true point.
- *where the kernel theory stops* (``d = 1``, matched mass): from starts at growing distance,
  and with growing ``eta_d``, the network run against the kernel GAN of its own ``Theta_h`` (the
  exact expansion): the largest deviation between the two trajectories relative to the start
  distance, and the kernel movement ``|Theta_t - Theta_0| / |Theta_0|`` at the end of the run;
  next to it the learned Gaussian metric (``kg.LearnedMetric``, normalized), the kernel-side
  counterpart of feature learning, whose kernel moves by the same measure.

All settings are outside the complex band of theory section 5, where every kernel would give
the same rate ``sqrt(1 - eta_d lam)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..discriminator.metric import LearnedMetric
from ..discriminator.network import NetworkDiscriminator
from ..dynamics import simulate
from ..equilibrium import find_equilibrium
from ..game import GDA, KernelGAN
from ..kernels.anisotropic import AnisotropicGaussian
from ..linearize import linearize
from ._base import Result, no_progress

NAME = "network-discriminator"
DESCRIPTION = ("Two-layer network discriminators against the kernel GAN of their tangent kernel: "
               "rates, fixed points, and where the lazy regime ends (theory section 13)")


@dataclass(frozen=True)
class Config:
    """Section 13's game (``x = 0.3`` in ``d = 1``; ``(0.3, -0.2)`` in ``d = 2``)."""

    widths: tuple = (16, 64, 256, 1024, 4096, 16384)
    seeds: tuple = (0, 1)
    dims: tuple = (1, 2)
    masses: tuple = (1.0, 0.8)
    sigma_w: float = 1.0
    sigma_b: float = 0.5
    lam: float = 2.0
    eta_d: float = 0.2
    eta_g: float = 0.05
    mode: str = "alternating"
    r0: float = 2e-6            # start distance of the rate runs (linear window: |e| < r0)
    noise_floor: float = 1e-11
    num_steps: int = 600
    # where the kernel theory stops (d = 1, matched mass)
    stop_widths: tuple = (16, 1024)
    starts: tuple = (1e-3, 1e-2, 0.1, 0.3, 1.0, 2.0, 4.0)
    eta_ds: tuple = (0.05, 0.2, 0.5, 0.8, 0.9, 0.95)
    eta_start: float = 1.0      # start distance of the eta_d sweep
    stop_steps: int = 120
    metric_every: int = 10
    metric_sigma: float = 0.5   # starting bandwidth of the learned metric


QUICK = Config(widths=(16, 256, 4096), seeds=(0,), dims=(1,), num_steps=600, stop_widths=(64,),
               starts=(1e-2, 1.0, 4.0), eta_ds=(0.2, 0.95), stop_steps=100)


def _point(d):
    return np.array([[0.3]]) if d == 1 else np.array([[0.3, -0.2]])


def _direction(d):
    v = np.ones(d) if d == 1 else np.array([1.0, 0.7])
    return v / np.linalg.norm(v)


def _top(values, k):
    values = np.asarray(values)
    return values[np.argsort(-np.abs(values))][:k]


def _rate_row(config, d, q, width, seed):
    """One rate run (module docstring): measured and predicted eigenvalues, fixed points."""
    x = _point(d)
    net = NetworkDiscriminator(width, "erf", config.sigma_w, config.sigma_b, seed, track_movement=False)
    gan = KernelGAN(x, 1.0, net.tangent_kernel(), config.lam)
    gda = GDA(config.eta_d, config.eta_g, mode=config.mode)
    k_eq = find_equilibrium(gan, x, q)
    lin = linearize(gan, k_eq, gda)
    a_gan = gan.with_kernel(net.analytic_kernel())
    a_eq = find_equilibrium(a_gan, x, q)
    a_lin = linearize(a_gan, a_eq, gda)
    start = k_eq if q == 1.0 else net.equilibrium(gan, k_eq.y, q)
    traj = simulate(gan, gda, start.y + config.r0 * _direction(d), q, config.num_steps,
                    discriminator=net, start=start)
    meas = traj.measure(start.y, linear_limit=config.r0, noise_floor=config.noise_floor)
    k = d  # the generator modes compared: one in d = 1, two in d = 2
    fitted = _top(meas.eigenvalues, k)
    pred, ana = _top(lin.eigenvalues[lin.visible], k), _top(a_lin.eigenvalues[a_lin.visible], k)
    err = (float(np.abs(fitted - pred).max()) if fitted.size == k else np.nan,
           float(np.abs(fitted - ana).max()) if fitted.size == k else np.nan)
    return {"measured": float(meas.rate), "empirical": lin.generator_rate, "analytic": a_lin.generator_rate,
            "err_emp": err[0], "err_ana": err[1], "y_net": float(start.y[0, 0]),
            "y_emp": float(k_eq.y[0, 0]), "y_ana": float(a_eq.y[0, 0])}


def _stop_row(config, width, eta_d, r):
    """Network against the kernel GAN of its tangent kernel from a start at distance ``r``."""
    x = _point(1)
    net = NetworkDiscriminator(width, "erf", config.sigma_w, config.sigma_b, seed=0)
    gan = KernelGAN(x, 1.0, net.tangent_kernel(), config.lam)
    gda = GDA(eta_d, config.eta_g, mode=config.mode)
    y0 = x + r
    n_run = simulate(gan, gda, y0, 1.0, config.stop_steps, discriminator=net)
    k_run = simulate(gan, gda, y0, 1.0, config.stop_steps, history_tol=1e-12)
    if n_run.y.shape != k_run.y.shape or not np.isfinite(n_run.y).all():
        return np.inf, np.inf, np.inf  # one of the two diverged
    dev = float(np.abs(n_run.y[:, 0, 0] - k_run.y[:, 0, 0]).max()) / r
    return dev, float(np.max(n_run.kernel_movement)), float(np.abs(n_run.y[-1, 0, 0] - x[0, 0]) / r)


def _metric_row(config, eta_d, r):
    """The learned Gaussian metric (``d = 2``: in ``d = 1`` a normalized metric cannot change) from
    a start at distance ``r``: the largest kernel movement of the run."""
    x = _point(2)
    gan = KernelGAN(x, 1.0, AnisotropicGaussian(np.eye(2) / config.metric_sigma ** 2), config.lam)
    run = simulate(gan, GDA(eta_d, config.eta_g, mode=config.mode), x + r * _direction(2), 1.0,
                   config.stop_steps, discriminator=LearnedMetric(every=config.metric_every, normalize=True))
    return float(np.max(run.kernel_movement))


def compute(config: Config = Config(), *, progress=no_progress) -> Result:
    """Rates, fixed points and the end of the lazy regime (module docstring)."""
    widths, seeds, dims, masses = (np.array(v) for v in (config.widths, config.seeds, config.dims,
                                                         config.masses))
    shape = (dims.size, masses.size, widths.size, seeds.size)
    names = ("measured", "empirical", "analytic", "err_emp", "err_ana", "y_net", "y_emp", "y_ana")
    out = {key: np.full(shape, np.nan) for key in names}
    cells = [(i, j, w, s) for i in range(dims.size) for j in range(masses.size)
             for w in range(widths.size) for s in range(seeds.size)]
    for i, j, w, s in progress(cells, total=len(cells), desc=NAME):
        row = _rate_row(config, int(dims[i]), float(masses[j]), int(widths[w]), int(seeds[s]))
        for key in names:
            out[key][i, j, w, s] = row[key]

    starts, eta_ds, stop_w = (np.array(v, dtype=float) for v in (config.starts, config.eta_ds,
                                                                  config.stop_widths))
    dev_r, move_r, end_r = (np.empty((stop_w.size, starts.size)) for _ in range(3))
    dev_e, move_e, end_e = (np.empty((stop_w.size, eta_ds.size)) for _ in range(3))
    for a, width in enumerate(config.stop_widths):
        for b, r in enumerate(starts):
            dev_r[a, b], move_r[a, b], end_r[a, b] = _stop_row(config, width, config.eta_d, r)
        for b, eta_d in enumerate(eta_ds):
            dev_e[a, b], move_e[a, b], end_e[a, b] = _stop_row(config, width, eta_d, config.eta_start)
    metric_r = np.array([_metric_row(config, config.eta_d, r) for r in starts])
    metric_e = np.array([_metric_row(config, e, config.eta_start) for e in eta_ds])

    # Headlines: the largest errors over the widths up to 4096 (the check), the slope of
    # the analytic-NTK error against width (theory: 1/sqrt(width)).
    small = widths <= 4096
    m0 = int(np.flatnonzero(masses == 1.0)[0]) if 1.0 in masses else 0
    mis = [j for j in range(masses.size) if masses[j] != 1.0]
    ana = np.nanmean(out["err_ana"], axis=(0, 1, 3))
    ok = np.isfinite(ana) & (ana > 0)
    slope = float(np.polyfit(np.log(widths[ok]), np.log(ana[ok]), 1)[0]) if ok.sum() >= 2 else np.nan
    summary = {
        "matched_err_emp_max": float(np.nanmax(out["err_emp"][:, m0][:, small])),
        "mismatch_err_emp_max": float(np.nanmax(out["err_emp"][:, mis][:, :, small])) if mis else np.nan,
        "err_ana_widest_mean": float(np.nanmean(out["err_ana"][:, :, -1])),
        "err_ana_slope": slope,
        "num_fits_failed": int(np.isnan(out["err_emp"]).sum()),
    }
    if mis:
        j = mis[0]
        summary |= {"mismatch_q": float(masses[j]), "y_net_widest": float(np.mean(out["y_net"][0, j, -1])),
                    "y_ana": float(out["y_ana"][0, j, 0, 0]),
                    "y_net_vs_emp_max": float(np.nanmax(np.abs(out["y_net"][0, j] - out["y_emp"][0, j])))}
    lazy = dev_r[0] < 1e-2  # the narrowest stop width
    summary["start_lazy_limit"] = float(starts[lazy].max()) if lazy.any() else 0.0
    summary["deviation_far_start"] = float(dev_r[0, -1])
    summary["movement_far_start"] = float(move_r[0, -1])
    summary["deviation_largest_eta_d"] = float(dev_e[0, -1])
    summary["metric_movement_far_start"] = float(metric_r[-1])

    dims4 = ("d", "q", "width", "seed")
    data = {key: (dims4, out[key]) for key in names}
    sw_r, sw_e = ("stop_width", "start"), ("stop_width", "eta_d")
    data |= {"deviation_start": (sw_r, dev_r), "movement_start": (sw_r, move_r), "final_start": (sw_r, end_r),
             "deviation_eta": (sw_e, dev_e), "movement_eta": (sw_e, move_e), "final_eta": (sw_e, end_e),
             "metric_movement_start": (("start",), metric_r), "metric_movement_eta": (("eta_d",), metric_e)}
    coords = {"d": dims, "q": masses, "width": widths, "seed": seeds, "stop_width": stop_w,
              "start": starts, "eta_d": eta_ds}
    table = [{"d": int(dims[i]), "q": float(masses[j]), "width": int(widths[w]), "seed": int(seeds[s]),
              "measured rate": out["measured"][i, j, w, s],
              "Theta_h prediction": out["empirical"][i, j, w, s],
              "analytic NTK prediction": out["analytic"][i, j, w, s],
              "|measured - Theta_h| (eigenvalues)": out["err_emp"][i, j, w, s],
              "|measured - NTK| (eigenvalues)": out["err_ana"][i, j, w, s],
              "network y*_1": out["y_net"][i, j, w, s], "Theta_h y*_1": out["y_emp"][i, j, w, s]}
             for i, j, w, s in cells]
    caption = (
        f"Two-layer erf network discriminators (sigma_w = {config.sigma_w:g}, sigma_b = {config.sigma_b:g}, "
        f"lam = {config.lam:g}, eta_d = {config.eta_d:g}, eta_g = {config.eta_g:g}, {config.mode}), one "
        "generated point near one true point (x = 0.3; (0.3, -0.2) in d = 2). (a) Rate error against width: "
        "the eigenvalues fitted to the network's run (|e| from "
        f"{config.r0:g} down to {config.noise_floor:g}) against linearize with the network's own tangent "
        "kernel Theta_h (filled) and with the analytic NTK (open), matched mass and q = 0.8, d = 1 and 2 "
        "(d = 2: the two dominant generator eigenvalues), with a 1/sqrt(width) line. Largest Theta_h error "
        f"up to width 4096: {summary['matched_err_emp_max']:.1g} at matched mass, "
        f"{summary['mismatch_err_emp_max']:.1g} with the mismatch; analytic-NTK error slope "
        f"{summary['err_ana_slope']:.2f} on log axes. (b) With q = 0.8 the fixed point sits off the true "
        "point: the network's, Theta_h's and the analytic NTK's. (c) From a start at distance r (d = 1, "
        "matched mass, width "
        f"{', '.join(map(str, config.stop_widths))}, {config.stop_steps} steps): the largest deviation "
        "between "
        "the network run and the kernel GAN of its Theta_h relative to r, and the largest kernel movement "
        "|Theta_t - Theta_0| / |Theta_0| of the run (dashed); grey: the largest movement of a learned "
        f"Gaussian metric (RFM, d = 2, every {config.metric_every} steps, normalized). (d) The same "
        f"against eta_d from r = {config.eta_start:g} (eta_d lam -> 2 is the discriminator's own stability "
        "limit). "
        "More seeds and widths, and longer stop runs, would tighten the slope and show the networks that "
        "stop converging at all.")
    return Result(NAME, config, data, coords, table, summary, caption)


def plot(result: Result):
    """(a) rate error vs width; (b) fixed points with a mismatch; (c, d) where kernel theory stops."""
    from ..plotting import new_figure, panel_label

    widths = result["width"]
    fig, axes = new_figure(2, 2, width=6.8, height=5.0, squeeze=False)
    ax, bx, cx, dx = axes.ravel()
    colors = {(1, 1.0): "#08519c", (1, 0.8): "#a50f15", (2, 1.0): "#6baed6", (2, 0.8): "#fb6a4a"}
    for i, d in enumerate(result["d"]):
        for j, q in enumerate(result["q"]):
            color = colors.get((int(d), float(q)), "k")
            emp = np.nanmean(result["err_emp"][i, j], axis=-1)
            ana = np.nanmean(result["err_ana"][i, j], axis=-1)
            ax.plot(widths, emp, "o-", color=color, ms=3, label=f"d={int(d)}, q={q:g}")
            ax.plot(widths, ana, "o--", color=color, ms=3, mfc="white")
    ref = np.nanmean(result["err_ana"][:, :, 0])
    if np.isfinite(ref):
        ax.plot(widths, 2 * ref * np.sqrt(widths[0] / widths), "-", color="k", lw=1.4, alpha=0.6,
                label=r"$\propto 1/\sqrt{h}$")
    ax.set(xscale="log", yscale="log", xlabel="width $h$", ylabel="|measured - predicted| eigenvalue")
    ax.legend(fontsize=5.5, frameon=False)
    panel_label(ax, "a")
    mis = [j for j, q in enumerate(result["q"]) if q != 1.0]
    if mis:
        j = mis[0]
        for s in range(len(result["seed"])):
            bx.plot(widths, result["y_net"][0, j, :, s], "o", color="#a50f15", ms=3,
                    label="network" if s == 0 else None)
            bx.plot(widths, result["y_emp"][0, j, :, s], "x", color="#08519c", ms=4,
                    label=r"$\Theta_h$ kernel GAN" if s == 0 else None)
        bx.axhline(result["y_ana"][0, j, 0, 0], color="k", lw=0.8, label="analytic NTK")
        bx.axhline(0.3, color="0.6", ls=":", lw=0.8, label="true point")
        bx.set(xscale="log", xlabel="width $h$", ylabel=f"fixed point $y^*$ (q = {result['q'][j]:g})")
        bx.legend(fontsize=5.5, frameon=False)
    panel_label(bx, "b")
    for axis, key, coord, label in ((cx, "start", result["start"], "start distance $r$"),
                                    (dx, "eta", result["eta_d"], r"$\eta_d$")):
        for a, width in enumerate(result["stop_width"]):
            color = ["#08519c", "#a50f15", "#238b45"][a % 3]
            axis.plot(coord, np.maximum(result[f"deviation_{key}"][a], 1e-17), "o-", color=color, ms=3,
                      label=f"h={int(width)}: |net - kernel GAN| / r")
            axis.plot(coord, np.maximum(result[f"movement_{key}"][a], 1e-17), "s--", color=color, ms=3,
                      label=f"h={int(width)}: kernel movement")
        axis.plot(coord, np.maximum(result[f"metric_movement_{key}"], 1e-17), "^--", color="0.5", ms=3,
                  label="learned metric (d=2): kernel movement")
        axis.set(xscale="log" if key == "start" else "linear", yscale="log", xlabel=label)
        axis.legend(fontsize=5, frameon=False)
    panel_label(cx, "c")
    panel_label(dx, "d")
    return fig
