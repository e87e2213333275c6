"""Local minima and mode collapse: the 1-D worst case of theory section 10.

True points ``-1, +1`` with ``p = (0.5, 0.5)``, two generated points with ``q = (0.5, 0.5)``,
alternating GDA with ``eta_d = 0.1``, ``eta_g = 0.01``, ``lam = 1`` from ``f0 = 0``.

(a) **Progress.** ``W2^2`` (theory section 10) against the iteration from the authors'
start ``(1.6, 1.7)`` for the authors' widths, Gaussian and Laplacian kernels.

(b) **The collapse fixed point.** For each Gaussian width, a long run from the authors'
start, Newton from its end point, and the collapse fixed point: both generated points on
``+1``'s side, *straddling* it (the spread fixed point of theory section 9; the coincident
configuration carries excess mass and is unstable, section 5). It is the spread collapse
entry on ``+1`` of the width's fixed-point catalogue (:func:`kernelgda.fixed_points`, whose
structured starts include the section-9 stationary spread ``1 -+ sigma / sqrt(3)``, plus the
end of the run as a given start). Its linearization
(the general Jacobian of section 4, the masses do not match) decides whether it is a
local minimum (spectral radius below 1). Its variance is shown next to the section-9
stationary spread ``tr S_inf = -d delta sigma^2 / (Q (1 + d/2))`` (:func:`kernelgda.smm.stationary_spread`)
and the settled spread of the Gaussian closure (theory section 11) of one cluster holding
both points on ``+1`` (:func:`closure_collapse`).

(c) **Basin map.** Over (width, start), the start being the pair ``(c, c + 0.1)``, each
cell is one exact run (``simulate_batch``) classified from its last configuration
(:func:`classify_runs`): *global fit*, *collapse*, *stall* (a point several widths from
every true point that no longer moves: the gradient has vanished, it is not a fixed
point), *escape* (such a point still moving out), *diverged*, or *unsettled* (still
moving near the data at the end). The predicted stability of collapse is drawn over it.

(d) **The published Laplacian picture.** The Laplacian runs of (a) once more with the authors'
gradient code, whose ``nan_to_num`` zeroes the whole gradient row of a point that coincides with
a centre (:mod:`._rowzero`, experiment code, not a library option), and the same code without the
zeroing checked against :func:`kernelgda.simulate` (theory section 10).

(e) **Unequal weights.** True weights ``uneq_p`` and the mirror order, ``lam`` in ``uneq_lams``,
widths ``uneq_sigmas``: every collapse of the fixed-point catalogue judged by its linearization,
then tested by an exact run from next to it (:mod:`._unequal`).

Headline: for how many widths the linearization's verdict on collapse (a stable collapse
fixed point exists, or not) agrees with the measured outcome of the starts inside its
basin, the cells whose start pair is centred within ``max(sigma / 2, spacing / 2)`` of
``+1``. The Laplacian kernel has no linearization at coincident points: simulation only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..batch import simulate_batch
from ..catalogue import fixed_points
from ..dynamics import simulate
from ..equilibrium import find_equilibrium
from ..game import GDA, KernelGAN
from ..kernels import Gaussian, Laplacian
from ..linearize import linearize
from ..status import Status
from ..wasserstein import wasserstein2_series
from . import _rowzero, _unequal
from ._base import Result, no_progress
from ._collapse import FAR, OUTCOMES, classify_runs, closure_collapse, smm_spread

NAME = "local-minima"
DESCRIPTION = ("Local minima and mode collapse in 1-D (true points -1, +1; two generated points "
               "near +1): W2^2 curves, the authors' Laplacian row-zeroing artifact, the collapse "
               "fixed point from the catalogue and its stability, basin map, unequal weights "
               "(theory section 10)")

@dataclass(frozen=True)
class Config:
    """Settings of the local-minima experiment (defaults: the authors' setting)."""

    x: tuple = (-1.0, 1.0)
    p: tuple = (0.5, 0.5)
    q: tuple = (0.5, 0.5)
    lam: float = 1.0
    eta_d: float = 0.1
    eta_g: float = 0.01
    mode: str = "alternating"
    start: tuple = (1.6, 1.7)
    curve_sigmas: tuple = (0.1, 0.25, 0.5, 0.75, 1.0)
    curve_steps: int = 2000
    curve_every: int = 10
    table_sigmas: tuple = (0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0)
    table_steps: int = 20000
    map_sigmas: tuple = tuple(float(s) for s in np.round(np.arange(0.1, 1.0001, 0.05), 3))
    map_starts: tuple = tuple(float(c) for c in np.round(np.arange(0.2, 2.91, 0.15), 3))
    map_offset: float = 0.1
    map_steps: int = 4000
    closure_steps: int = 10000
    history_tol: float = 1e-12
    uneq_p: tuple = (0.3, 0.7)
    uneq_lams: tuple = (0.3, 3.0)
    uneq_sigmas: tuple = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    uneq_steps: int = 4000
    uneq_offset: float = 0.01
    uneq_seed: int = 0


QUICK = Config(curve_sigmas=(0.1, 0.5, 1.0), curve_steps=400, curve_every=10,
               table_sigmas=(0.25, 0.4, 0.75), table_steps=2000,
               map_sigmas=(0.1, 0.4, 0.7, 1.0), map_starts=(0.35, 0.95, 1.7, 2.6), map_steps=1000,
               closure_steps=4000, uneq_sigmas=(0.3,), uneq_steps=2000)


def _game(config: Config, kernel) -> KernelGAN:
    return KernelGAN(np.array(config.x)[:, None], np.array(config.p), kernel, lam=config.lam)


def _gda(config: Config) -> GDA:
    return GDA(config.eta_d, config.eta_g, config.mode)


def _pair(a: float, b: float) -> np.ndarray:
    return np.array([[a], [b]], dtype=float)


def fixed_point_status(gan: KernelGAN, eq) -> Status:
    """Status of a Newton result: a 'fixed point' with a point ``FAR`` widths off the data
    is a stall (vanishing gradient), not a fixed point (theory section 10).

    Where ``find_equilibrium`` reports a ``status`` (``VANISHING_GRADIENT`` for a stall) that
    is not ``CONVERGED``, that status is returned; the distance test stays as a second check.
    """
    status = getattr(eq, "status", None)
    if isinstance(status, Status) and status is not Status.CONVERGED:
        return status
    if not eq.converged:
        return Status.NOT_CONVERGED
    dist = np.abs(eq.y[:, 0][:, None] - gan.x_true[:, 0][None, :]).min(axis=1)
    if np.any(dist > FAR * gan.kernel.sigma):
        return Status.VANISHING_GRADIENT
    return Status.CONVERGED


def catalogue(config: Config, sigma: float, cache: dict, starts=None):
    """The fixed-point catalogue (:func:`kernelgda.fixed_points`, structured starts only, plus
    ``starts``) of the Gaussian game of width ``sigma``, judged for the experiment's GDA; kept in
    ``cache`` so that the table and the map share it."""
    key = float(sigma)
    if key not in cache:
        gan = _game(config, Gaussian(sigma=key))
        cache[key] = fixed_points(gan, np.array(config.q), gda=_gda(config), starts=starts,
                                  num_random=0)
    return cache[key]


def straddle(cat, site: int = 1):
    """The collapse entry with its points spread around true point ``site`` (the straddling
    collapse of theory section 10), the most stable if there are several; ``None`` if none."""
    found = [e for e in cat if e.kind.kind == "collapse" and e.kind.shared
             and e.kind.shared[0][0] == site and np.ptp(e.y[:, 0]) > 1e-3 * e.length_scale]
    return min(found, key=lambda e: e.spectral_radius) if found else None


def _collapse_summary(q, entry):
    """(y1, y2, variance, spectral radius) of a collapse entry, nan where none."""
    if entry is None:
        return np.nan, np.nan, np.nan, np.nan
    y = entry.y[:, 0]
    w = q / q.sum()
    var = float(w @ (y - w @ y) ** 2)
    return float(y[0]), float(y[1]), var, entry.spectral_radius


def _curves(config: Config, progress):
    """(a): W2^2 series of both kernels from the authors' start."""
    gda = _gda(config)
    q = np.array(config.q)
    x = np.array(config.x)[:, None]
    y0 = _pair(*config.start)
    sigmas = np.array(config.curve_sigmas, dtype=float)
    steps = np.arange(0, config.curve_steps + 1, config.curve_every)
    if steps[-1] != config.curve_steps:
        steps = np.append(steps, config.curve_steps)
    w2 = np.full((2, sigmas.size, steps.size), np.nan)
    ends = np.full((2, sigmas.size, 2), np.nan)
    outcome = np.empty((2, sigmas.size), dtype=np.int8)
    gans = [_game(config, Gaussian(sigma=s)) for s in sigmas]
    runs = simulate_batch(gans, gda, y0, q, config.curve_steps, history_tol=config.history_tol)
    trajs = [runs.trajectory(i) for i in range(len(gans))]
    for s in progress(sigmas, total=sigmas.size, desc=f"{NAME} laplacian"):
        trajs.append(simulate(_game(config, Laplacian(sigma=s)), gda, y0, q, config.curve_steps,
                              history_tol=config.history_tol))
    for i, tr in enumerate(trajs):
        k, j = divmod(i, sigmas.size)
        st, vals = wasserstein2_series(tr.y, q, x, config.p, every=config.curve_every)
        on_grid = np.isin(st, steps)
        w2[k, j, np.searchsorted(steps, st[on_grid])] = vals[on_grid]
        ends[k, j] = tr.y[-1, :, 0]
        outcome[k, j] = classify_runs(tr.y[None], [tr.status], x[:, 0], sigmas[j:j + 1])[0]
    return steps, w2, ends, outcome, np.stack([tr.y for tr in trajs[sigmas.size:]])


def _table(config: Config, cache: dict):
    """(b): long runs, Newton from their ends, the collapse fixed point of each width."""
    gda = _gda(config)
    q = np.array(config.q)
    sigmas = np.array(config.table_sigmas, dtype=float)
    gans = [_game(config, Gaussian(sigma=s)) for s in sigmas]
    runs = simulate_batch(gans, gda, _pair(*config.start), q, config.table_steps,
                          history_tol=config.history_tol)
    outcome = classify_runs(runs.y, runs.status, np.array(config.x), sigmas)
    rows, cols = [], {k: np.full(sigmas.size, np.nan) for k in
                      ("end1", "end2", "y1", "y2", "variance", "radius", "smm", "end_radius")}
    newton = np.empty(sigmas.size, dtype=np.int8)
    cols["smm"] = smm_spread(config, sigmas)
    for i, (gan, s) in enumerate(zip(gans, sigmas, strict=True)):
        end = runs.y[i, runs.num_taken[i]]
        cols["end1"][i], cols["end2"][i] = end[:, 0]
        eq_end = find_equilibrium(gan, end, q)
        st = fixed_point_status(gan, eq_end)
        newton[i] = st.code
        if st is Status.CONVERGED:
            cols["end_radius"][i] = linearize(gan, eq_end, gda).spectral_radius
        eq = straddle(catalogue(config, s, cache, starts=end))
        y1, y2, var, rad = _collapse_summary(q, eq)
        cols["y1"][i], cols["y2"][i], cols["variance"][i], cols["radius"][i] = y1, y2, var, rad
        rows.append({
            "sigma": float(s), "end of run": f"({end[0, 0]:.3g}, {end[1, 0]:.3g})",
            "run outcome": OUTCOMES[outcome[i]], "Newton from end": st.label,
            "collapse fixed point": "none found" if eq is None else f"({y1:.3f}, {y2:.3f})",
            "collapse radius": rad, "local minimum": "" if eq is None else bool(rad < 1),
            "collapse variance": var, "section-9 spread": float(cols["smm"][i]),
        })
    return sigmas, cols, newton, outcome, rows


def _basin_map(config: Config, progress, cache: dict):
    """(c): one exact run per (width, start); the collapse fixed point by continuation."""
    gda = _gda(config)
    q = np.array(config.q)
    sigmas = np.array(config.map_sigmas, dtype=float)
    starts = np.array(config.map_starts, dtype=float)
    gans, y0 = [], []
    for s in sigmas:
        gan = _game(config, Gaussian(sigma=s))
        for c in starts:
            gans.append(gan)
            y0.append(_pair(c, c + config.map_offset))
    runs = simulate_batch(gans, gda, np.array(y0), q, config.map_steps, history_tol=config.history_tol)
    outcome = classify_runs(runs.y, runs.status, np.array(config.x),
                            np.repeat(sigmas, starts.size)).reshape(sigmas.size, starts.size)
    fp = np.full((sigmas.size, 4), np.nan)
    for i, s in enumerate(progress(sigmas, total=sigmas.size, desc=f"{NAME} fixed points")):
        fp[i] = _collapse_summary(q, straddle(catalogue(config, s, cache)))
    return sigmas, starts, outcome, fp


def verdicts(config: Config, sigmas, starts, outcome, radius):
    """Predicted and measured verdict on collapse for each width of the map.

    Predicted: a collapse fixed point was found and its spectral radius is below 1.
    Measured: most of the starts inside its basin (pair centred within ``max(sigma / 2,
    spacing / 2)`` of ``+1``) end in collapse. Returns ``(predicted, measured, near_count)``.
    """
    centre = starts + config.map_offset / 2
    spacing = float(np.min(np.diff(starts))) if starts.size > 1 else np.inf
    predicted = np.isfinite(radius) & (radius < 1)
    measured = np.zeros(sigmas.size, dtype=bool)
    count = np.zeros(sigmas.size, dtype=int)
    for i, s in enumerate(sigmas):
        near = np.abs(centre - config.x[1]) <= max(s / 2, spacing / 2) + 1e-12
        if not near.any():
            near = np.abs(centre - config.x[1]) == np.abs(centre - config.x[1]).min()
        count[i] = int(near.sum())
        measured[i] = np.mean(outcome[i, near] == OUTCOMES.index("collapse")) > 0.5
    return predicted, measured, count


def compute(config: Config = Config(), *, progress=no_progress) -> Result:
    """Runs (a)-(c) of the module docstring."""
    steps, w2, ends, curve_out, lap_y = _curves(config, progress)
    rz_w2, rz_end, rz_out, rz_within, rz_gap = _rowzero.artifact(config, steps, lap_y)
    uneq = _unequal.collapse_verdicts(config)
    cache: dict = {}
    t_sig, cols, newton, t_out, table = _table(config, cache)
    m_sig, m_starts, m_out, fp = _basin_map(config, progress, cache)
    c_sig = np.union1d(t_sig, m_sig)
    c_mean, c_spread, c_settled, c_holds = closure_collapse(config, c_sig)
    at_table = np.searchsorted(c_sig, t_sig)
    for row, j in zip(table, at_table, strict=True):
        row["closure spread"] = float(c_spread[j]) if c_holds[j] else float("nan")
    smm_sigma = np.linspace(min(t_sig.min(), m_sig.min()), max(t_sig.max(), m_sig.max()), 100)
    predicted, measured, near = verdicts(config, m_sig, m_starts, m_out, fp[:, 3])
    agree = predicted == measured
    data = {
        "w2": (("kernel", "curve_sigma", "curve_step"), w2),
        "curve_end": (("kernel", "curve_sigma", "point"), ends),
        "curve_outcome": (("kernel", "curve_sigma"), curve_out),
        "table_end": (("table_sigma", "point"), np.stack([cols["end1"], cols["end2"]], axis=1)),
        "table_outcome": (("table_sigma",), t_out),
        "newton_status": (("table_sigma",), newton),
        "end_radius": (("table_sigma",), cols["end_radius"]),
        "collapse_y": (("table_sigma", "point"), np.stack([cols["y1"], cols["y2"]], axis=1)),
        "collapse_variance": (("table_sigma",), cols["variance"]),
        "collapse_radius": (("table_sigma",), cols["radius"]),
        "smm_spread": (("table_sigma",), cols["smm"]),
        "smm_curve": (("smm_sigma",), smm_spread(config, smm_sigma)),
        "closure_mean": (("closure_sigma",), c_mean),
        "closure_spread": (("closure_sigma",), c_spread),
        "closure_settled": (("closure_sigma",), c_settled),
        "closure_holds": (("closure_sigma",), c_holds),
        "outcome": (("map_sigma", "map_start"), m_out),
        "map_collapse_y": (("map_sigma", "point"), fp[:, :2]),
        "map_collapse_variance": (("map_sigma",), fp[:, 2]),
        "map_collapse_radius": (("map_sigma",), fp[:, 3]),
        "predicted_trap": (("map_sigma",), predicted),
        "measured_trap": (("map_sigma",), measured),
        "near_starts": (("map_sigma",), near),
        "w2_rowzero": (("curve_sigma", "curve_step"), rz_w2),
        "rowzero_end": (("curve_sigma", "point"), rz_end),
        "rowzero_outcome": (("curve_sigma",), rz_out),
        "rowzero_agree_steps": (("curve_sigma",), rz_within),
        "rowzero_max_gap": (("curve_sigma",), rz_gap),
    }
    udims = ("uneq_order", "uneq_lam", "uneq_sigma", "collapse")
    for key in ("radius", "predicted", "measured", "decisive", "ratio"):
        data[f"uneq_{key}"] = (udims, uneq[key])
    data["uneq_y"] = (udims + ("point",), uneq["y"])
    coords = {"kernel": np.array(["gaussian", "laplacian"]), "curve_sigma": np.array(config.curve_sigmas),
              "curve_step": steps, "point": np.arange(2), "table_sigma": t_sig,
              "map_sigma": m_sig, "map_start": m_starts, "smm_sigma": smm_sigma,
              "closure_sigma": c_sig, "uneq_order": np.array([str(config.uneq_p), str(config.uneq_p[::-1])]),
              "uneq_lam": np.array(config.uneq_lams, dtype=float),
              "uneq_sigma": np.array(config.uneq_sigmas, dtype=float), "collapse": np.array(_unequal.KINDS)}
    stable = predicted
    counts = {o: int((m_out == k).sum()) for k, o in enumerate(OUTCOMES)}
    summary = {
        "widths_verdict_agrees": f"{int(agree.sum())} of {agree.size}",
        "disagreeing_widths": ", ".join(f"{s:g}" for s in m_sig[~agree]) or "none",
        "collapse_stable_widths": (f"{m_sig[stable].min():g}-{m_sig[stable].max():g}"
                                   if stable.any() else "none"),
        "map_outcomes": ", ".join(f"{o} {c}" for o, c in counts.items() if c),
        "gaussian_final_w2": ", ".join(
            f"{s:g}: {v:.3g} ({OUTCOMES[o]})" for s, v, o in
            zip(config.curve_sigmas, w2[0, :, -1], curve_out[0], strict=True)),
        "laplacian_final_w2": ", ".join(
            f"{s:g}: {v:.3g} ({OUTCOMES[o]})" for s, v, o in
            zip(config.curve_sigmas, w2[1, :, -1], curve_out[1], strict=True)),
        "laplacian_rowzero_final_w2": ", ".join(
            f"{s:g}: {v:.3g} ({OUTCOMES[o]})" for s, v, o in
            zip(config.curve_sigmas, rz_w2[:, -1], rz_out, strict=True)),
        "laplacian_reimplementation_vs_library": (
            f"within {_rowzero.AGREE:g} for the first {int(rz_within.min())} steps at every width "
            f"({', '.join(f'{s:g}: {k}' for s, k in zip(config.curve_sigmas, rz_within, strict=True))}); "
            f"largest gap over {config.curve_steps} steps {float(rz_gap.max()):.2g}"),
    }
    summary.update(_unequal.summary(config, uneq))
    has_var = np.isfinite(cols["variance"])
    if has_var.any():
        ratio = cols["variance"][has_var] / cols["smm"][has_var]
        summary["collapse_variance_over_smm"] = f"{ratio.min():.2f}-{ratio.max():.2f}"
    summary["closure_collapse_widths"] = (f"{c_sig[c_holds].min():g}-{c_sig[c_holds].max():g}"
                                          if c_holds.any() else "none")
    if c_holds.any():
        ratio = c_spread[c_holds] / smm_spread(config, c_sig[c_holds])
        summary["closure_spread_over_smm"] = f"{ratio.min():.2f}-{ratio.max():.2f}"
    newton_var = np.full(c_sig.size, np.nan)
    newton_var[np.searchsorted(c_sig, m_sig)] = fp[:, 2]
    newton_var[at_table] = np.where(np.isfinite(cols["variance"]), cols["variance"],
                                    newton_var[at_table])
    both = c_holds & np.isfinite(newton_var)
    if both.any():
        ratio = c_spread[both] / newton_var[both]
        summary["closure_spread_over_newton_variance"] = f"{ratio.min():.2f}-{ratio.max():.2f}"
    caption = (
        "Two true points (-1, +1, p = 0.5 each) and two generated points (q = 0.5 each), "
        f"{config.mode} GDA, eta_d = {config.eta_d:g}, eta_g = {config.eta_g:g}, lam = {config.lam:g}, "
        f"f0 = 0 (theory section 10). (a) W2^2 from the start {config.start} over {config.curve_steps} "
        "steps, Gaussian kernel; (b) the same, Laplacian kernel: simulation only, the Laplacian has no "
        "linearization at coincident points. (c) The same Laplacian runs with the authors' kernel code, "
        "reproduced here: its gradient K (u - v) / (sigma r) is 0/0 at r = 0 and nan_to_num then zeroes "
        "the whole row of a point that coincides with any centre; in alternating GDA the current "
        "configuration is always a centre of the discriminator, so the points never feel the generated "
        "history and only climb toward the true points: both end on +1 (final W2^2 "
        f"{summary['laplacian_rowzero_final_w2']}), the published picture. Without the zeroing "
        "(subgradient 0 for the coincident pair only) the same code follows kg.simulate "
        f"{summary['laplacian_reimplementation_vs_library']} (rounding differences grow along the "
        "unstable escaping runs). (d) The collapse fixed point (points straddling +1, the "
        "spread fixed point of theory section 9), the spread collapse entry of the fixed-point "
        "catalogue (kg.fixed_points): its variance (markers, filled when "
        "the linearization has spectral radius below 1, i.e. a local minimum; thin line: the map's "
        "widths) next to the section-9 stationary spread (grey line) and the settled spread of the "
        "Gaussian closure (theory section 11: both points as one Gaussian cluster on +1, "
        f"{config.closure_steps} steps from f0 = 0; drawn where it stays on +1, widths "
        f"{summary['closure_collapse_widths']}, "
        f"{summary.get('closure_spread_over_newton_variance', 'n/a')} times Newton's variance). "
        "(e) Basin map: the outcome of one exact run per width and start "
        f"pair (c, c + {config.map_offset:g}) after {config.map_steps} steps; the lines are the two "
        "points of the collapse fixed point (solid where stable), the strip above marks the widths "
        "where collapse is predicted to be a local minimum. The verdict agrees for "
        f"{summary['widths_verdict_agrees']} widths (starts centred within sigma/2 of +1). "
        f"(f) Unequal weights: true weights {tuple(config.uneq_p)} and the mirror order, lam "
        f"{' and '.join(f'{v:g}' for v in config.uneq_lams)}: every collapse fixed point of the "
        "catalogue (spread or coincident, on the light or the heavy point; spectral radius - 1, "
        "filled where spread) and an exact run from its f* with the points moved "
        f"{config.uneq_offset:g} sigma (red ring where the run disagrees with the verdict; "
        f"agreement: {summary['unequal_verdicts_agree']}; a verdict is decisive when rho^T is below "
        f"1/{_unequal.DECISIVE:g} or above {_unequal.DECISIVE:g} in T = {config.uneq_steps} steps; "
        f"longer runs would decide the rest). Stable collapses: {summary['unequal_stable_collapses']}. "
        f"The mirror order: {summary['unequal_mirror']}.")
    return Result(NAME, config, data, coords, table, summary, caption)


#: Colours of the outcomes (global fit, collapse, stall, escape, diverged, unsettled).
OUTCOME_COLORS = ("#4daf4a", "#e41a1c", "#ff7f00", "#984ea3", "#000000", "#bdbdbd")


def plot(result: Result):
    """Six panels: W2^2 (Gaussian, Laplacian, Laplacian with the authors' row-zeroing), collapse
    spread, basin map, unequal weights."""
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    from ..plotting import new_figure, panel_label, w2_panel

    fig, axes = new_figure(3, 2, width=6.8, height=8.1, squeeze=False)
    steps = result["curve_step"]
    colors = ("#08306b", "#2171b5", "#4292c6", "#6baed6", "#9ecae1", "#c6dbef")
    for k, title in enumerate(("Gaussian", "Laplacian (simulation only)")):
        w2_panel(axes[0, k], steps, result["w2"][k], result["curve_sigma"], title, "ab"[k], colors=colors)
    axes[0, 0].legend(fontsize=6, frameon=False)
    w2_panel(axes[1, 0], steps, result["w2_rowzero"], result["curve_sigma"],
             "row-zeroed Laplacian (artifact)", "c", colors=colors)
    ax = axes[1, 1]
    sig = result["table_sigma"]
    ax.plot(result["smm_sigma"], result["smm_curve"], color="0.4", lw=1,
            label="section 9 stationary spread")
    cs, held = result["closure_sigma"], result["closure_holds"].astype(bool)
    ax.plot(cs, np.where(held, result["closure_spread"], np.nan), "s-", color="#1b9e77", ms=2.5,
            lw=1, label="Gaussian closure (section 11)")
    ax.plot(result["map_sigma"], result["map_collapse_variance"], color="#e41a1c", lw=0.7,
            alpha=0.6)
    var, rad = result["collapse_variance"], result["collapse_radius"]
    stable = np.isfinite(rad) & (rad < 1)
    ax.plot(sig[stable], var[stable], "o", color="#e41a1c", ms=4, label="collapse, local minimum")
    ax.plot(sig[~stable & np.isfinite(var)], var[~stable & np.isfinite(var)], "o", mfc="none",
            color="#e41a1c", ms=4, label="collapse, unstable")
    for s in sig[~np.isfinite(var)]:
        ax.axvline(s, color="0.8", lw=0.8, ls=":")
    for s, v, r in zip(sig, var, rad, strict=True):
        if np.isfinite(r):
            ax.annotate(f"{r:.4f}", (s, v), fontsize=5, xytext=(2, 3), textcoords="offset points")
    ax.set_xlabel(r"$\sigma$")
    ax.set_yscale("log")
    ax.set_ylabel("spread of the collapse state")
    ax.legend(fontsize=6, frameon=False)
    panel_label(ax, "d")
    ax = axes[2, 0]
    ms, st = result["map_sigma"], result["map_start"]
    cmap = ListedColormap(OUTCOME_COLORS)
    norm = BoundaryNorm(np.arange(len(OUTCOMES) + 1) - 0.5, len(OUTCOMES))
    ax.pcolormesh(_edges(ms), _edges(st), result["outcome"].T, cmap=cmap, norm=norm)
    ys, mrad = result["map_collapse_y"], result["map_collapse_radius"]
    good = np.isfinite(mrad) & (mrad < 1)
    for j in range(2):
        ax.plot(ms, np.where(good, ys[:, j], np.nan), color="white", lw=1.4)
        ax.plot(ms, np.where(good, np.nan, ys[:, j]), color="white", lw=1.0, ls="--")
    ax.scatter(ms, np.full(ms.size, st.max() + 0.6 * (st[1] - st[0] if st.size > 1 else 0.1)),
               c=np.where(result["predicted_trap"], "#e41a1c", "#4daf4a"), marker="s", s=10,
               clip_on=False)
    ax.set_xlabel(r"$\sigma$")
    ax.set_ylabel("start $c$ (pair $c$, $c + 0.1$)")
    panel_label(ax, "e")
    _unequal.draw(axes[2, 1], result)
    panel_label(axes[2, 1], "f")
    handles = [Patch(color=c, label=o) for c, o in zip(OUTCOME_COLORS, OUTCOMES, strict=True)]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(OUTCOMES), frameon=False,
               fontsize=6)
    return fig


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around sorted cell centres."""
    if centres.size == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mid = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - mid[0]], mid, [2 * centres[-1] - mid[-1]]])
