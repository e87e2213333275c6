"""Minima of MMD^2(theta) that GDA does not keep (theory section 12).

Affine and small MLP generators on three true points in ``d = 1`` and on four true points on a
square in ``d = 2``. From many random starts of ``theta`` (seeded) the fixed points of the
generator are found (:func:`kernelgda.find_equilibrium`: MMD^2 minimization, then least-squares
Newton on ``J^T Q grad f* = 0``) and deduplicated. For each: its kind (perfect fit, collapse, ...;
perfect-gradient or parametric), ``MMD^2``, whether it is a local minimum of ``MMD^2(theta)`` (the
Hessian :func:`kernelgda.equilibrium.mmd2_hessian` positive semidefinite), the spectral radius of
the GDA map on ``(B, t)`` (:func:`kernelgda.linearize`) and an exact run started next to it
(``|e0| = e0_size sigma`` in point space, pulled back to ``theta``): does the run stay or leave?

A minimum of ``MMD^2`` is what a best-response discriminator would settle in; the two-player
dynamics can still leave it (spectral radius above one): the two problems have different stable
sets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..equilibrium import find_equilibrium, mmd2_hessian
from ..game import GDA, KernelGAN
from ..generators import MLP, Affine
from ..kernels import Gaussian
from ..linearize import linearize
from ._base import Result, no_progress

NAME = "parametric-minima"
DESCRIPTION = ("Fixed points of affine and MLP generators: minima of MMD^2(theta) against "
               "stability under GDA, with exact runs (section 12)")

#: Cases: (label, true points, generator kind, latent dim, hidden widths, activation).
CASES = (
    ("1-D, affine, z in R^1", "line", "affine", 1, (), ""),
    ("1-D, affine, z in R^2", "line", "affine", 2, (), ""),
    ("1-D, tanh MLP (1 unit)", "line", "mlp", 1, (1,), "tanh"),
    ("2-D, tanh MLP (2 units)", "square", "mlp", 2, (2,), "tanh"),
    ("2-D, softplus MLP (3 units)", "square", "mlp", 2, (3,), "softplus"),
)
#: Verdicts of a run: the distance to the fixed point after the run against the start's.
VERDICTS = ("stays", "leaves")


@dataclass(frozen=True)
class Config:
    """Settings: the games, the starts, the learning rates and the runs."""

    sigma: float = 0.5
    lam: float = 1.0
    eta_d: float = 0.1
    eta_g: float = 0.5
    num_starts: int = 12
    theta_scale: float = 2.0
    num_steps: int = 1500
    e0_size: float = 1e-4
    leave_factor: float = 100.0
    history_tol: float = 1e-13
    seed: int = 0


QUICK = Config(num_starts=3, num_steps=400)


def _true_points(shape: str) -> np.ndarray:
    if shape == "line":
        return np.array([[-1.0], [0.0], [1.3]])
    return 0.6 * np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])


def _generator(case, n, d, seed, codes_rng, scale):
    _, _, kind, k, hidden, act = case
    z = codes_rng.standard_normal((n, k))
    gen = Affine(z, d, seed=seed) if kind == "affine" else MLP(z, d, hidden, act, seed=seed)
    jitter = 0.1 * np.random.default_rng(seed).standard_normal(gen.num_params)  # biases start at 0
    return gen.with_theta(scale * gen.theta + jitter)


def compute(config: Config = Config(), *, progress=no_progress) -> Result:
    """Every distinct fixed point of every case, with its verdicts and a run next to it."""
    from ..dynamics import simulate
    from ..kinds import fixed_point_kind

    gda = GDA(config.eta_d, config.eta_g)
    rows, curves = [], []
    for c, case in enumerate(progress(CASES, total=len(CASES), desc=NAME)):
        x = _true_points(case[1])
        m, d = x.shape
        gan = KernelGAN(x, 1.0 / m, Gaussian(config.sigma), config.lam)
        q = np.full(m, 1.0 / m)
        found = []
        for s in range(config.num_starts):
            codes = np.random.default_rng(config.seed + 1000 * c)  # one set of codes per case
            gen = _generator(case, m, d, config.seed + s, codes, config.theta_scale)
            eq = find_equilibrium(gan, gen, q)
            if not eq.converged:
                continue
            key = np.sort(eq.y, axis=0)
            if any(np.abs(key - other).max() < 1e-6 for other in found):
                continue
            found.append(key)
            hess = np.linalg.eigvalsh(mmd2_hessian(gan, eq))
            lin = linearize(gan, eq, gda)
            kind = fixed_point_kind(gan, eq.y, q, spectral_radius=lin.spectral_radius)
            rng = np.random.default_rng(config.seed + 7 * s + c)
            e0 = rng.standard_normal(eq.y.size)
            e0 *= config.e0_size * config.sigma / np.linalg.norm(e0)
            jac = eq.generator.jacobian(eq.theta)
            t0 = eq.generator.pull_back(eq.theta, e0.reshape(eq.y.shape))
            traj = simulate(gan, gda, eq.generator.with_theta(eq.theta + t0), q, config.num_steps,
                            start=eq, history_tol=config.history_tol)
            dist = traj.distance(eq.y)
            size0 = float(np.linalg.norm(jac @ t0))
            left = (str(traj.status) != "completed") or dist[-1] > config.leave_factor * size0
            curve = np.full(config.num_steps + 1, np.nan)
            curve[:dist.size] = dist / size0
            curves.append(curve)
            scale = max(float(np.abs(hess).max()), 1e-300)
            rows.append({"case": case[0], "kind": kind.kind, "gradient_kind": eq.gradient_kind,
                         "mmd2": float(gan.mmd2(eq.y, q)), "mmd2_min_eig": float(hess.min() / scale),
                         "mmd2_minimum": bool(hess.min() >= -1e-9 * scale),
                         "spectral_radius": float(lin.spectral_radius),
                         "gda_stable": bool(lin.spectral_radius < 1),
                         "predicted": "leaves" if lin.spectral_radius ** config.num_steps
                         > config.leave_factor else "stays",
                         "run": VERDICTS[int(left)], "points": np.round(eq.y, 4).tolist()})
    minima = [r for r in rows if r["mmd2_minimum"]]
    decided = [r for r in rows if abs(np.log(r["spectral_radius"])) * config.num_steps > 2 * np.log(
        config.leave_factor)]
    summary = {"num_fixed_points": len(rows), "num_mmd2_minima": len(minima),
               "num_mmd2_minima_unstable_under_gda": sum(not r["gda_stable"] for r in minima),
               "num_decided": len(decided),
               "num_runs_agreeing": sum(r["predicted"] == r["run"] for r in decided)}
    table = [{k: v for k, v in r.items() if k != "points"} for r in rows]
    return Result(
        name=NAME, config=config,
        data={"spectral_radius": (("fixed_point",), np.array([r["spectral_radius"] for r in rows])),
              "mmd2_min_eig": (("fixed_point",), np.array([r["mmd2_min_eig"] for r in rows])),
              "mmd2": (("fixed_point",), np.array([r["mmd2"] for r in rows])),
              "case_index": (("fixed_point",), np.array([[c[0] for c in CASES].index(r["case"])
                                                        for r in rows], dtype=int)),
              "stays": (("fixed_point",), np.array([r["run"] == "stays" for r in rows])),
              "distance": (("fixed_point", "step"), np.array(curves).reshape(len(rows), -1))},
        coords={"fixed_point": np.arange(len(rows)), "step": np.arange(config.num_steps + 1)},
        table=table, summary=summary,
        caption=("Fixed points of affine and small MLP generators (theory section 12) found from "
                 f"{config.num_starts} random starts each: three true points in d = 1 and four on a "
                 f"square in d = 2, Gaussian kernel sigma = {config.sigma:g}, lam = {config.lam:g}, "
                 f"alternating GDA eta_d = {config.eta_d:g}, eta_g = {config.eta_g:g}. (a) Whether each is "
                 "a minimum of MMD^2(theta) (smallest Hessian eigenvalue, relative) against the spectral "
                 "radius of the GDA map on (B, t): points right of 0 and above 1 are minima of MMD^2 "
                 "that GDA leaves. (b) Exact runs started 1e-4 sigma away (in point space): the "
                 f"distance over {config.num_steps} steps, solid where the run stays, dashed where it "
                 "leaves. More starts would find more fixed points of the larger networks."))


def plot(result: Result):
    """(a) MMD^2 curvature against the GDA spectral radius; (b) the runs' distances."""
    from ..plotting import new_figure, panel_label

    fig, (ax, bx) = new_figure(1, 2, width=7.0, height=3.0)
    case = result["case_index"]
    for c, label in enumerate(lab for lab, *_ in CASES):
        sel = case == c
        if sel.any():
            ax.scatter(result["mmd2_min_eig"][sel], result["spectral_radius"][sel], s=14, label=label,
                       color=f"C{c}", marker="os^Dv"[c % 5])
    ax.axhline(1.0, color="0.5", lw=0.8, ls="--")
    ax.axvline(0.0, color="0.5", lw=0.8, ls="--")
    ax.set_xlabel(r"smallest eigenvalue of $\nabla^2_\theta$ MMD$^2$ (relative)")
    ax.set_ylabel("spectral radius of GDA")
    ax.legend(frameon=False, fontsize=6)
    panel_label(ax, "a")
    steps = result["step"]
    for i in range(result["distance"].shape[0]):
        bx.semilogy(steps, result["distance"][i], color=f"C{case[i]}", lw=0.7,
                    ls="-" if result["stays"][i] else "--")
    bx.set_xlabel("step")
    bx.set_ylabel(r"$|Y^k - Y^*| / |e_0|$")
    panel_label(bx, "b")
    return fig
