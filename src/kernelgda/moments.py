"""The Gaussian-closure moment model of kernel GDA (theory section 11).

Each cluster ``j`` of generated points (``n_j`` points of equal weight ``q_j``, mass
``Q_j = n_j q_j``) is assumed Gaussian, ``N(e_j, S_j)``, at every step. For the Gaussian
kernel (and a multiscale sum of Gaussians, one bump per scale) the discriminator update
(D) of theory section 2, averaged over the clusters,

    f+ = (1 - a) f + eta_d ( sum_i p_i K(., x_i) - sum_j Q_j E_{y ~ N(e_j, S_j)} K(., y) ),

keeps ``f`` a weighted sum of Gaussian bumps (:mod:`kernelgda.bumps`): one per true point
and scale (weight ``(1 - a) w + eta_d p_i``) and one per cluster, scale and past step (weight
``-eta_d Q_j`` when added, times ``1 - a`` after), with ``a = eta_d lam``. The generator
moves by statistical linearization, with ``f~ = f^{k+1}`` (alternating) or ``f^k``
(simultaneous) and ``y ~ N(e_j, S_j)``::

    e_j+ = e_j + eta_g q_j E[grad f~(y)]
    S_j+ = (I + eta_g q_j Abar) S_j (I + eta_g q_j Abar)^T,     Abar = E[Hess f~(y)]

A cluster of one point (``S = 0``) gives back the exact dynamics of
:func:`kernelgda.simulate`.

History truncation
------------------
A bump of scale ``sigma_s`` has covariance at least ``sigma_s^2 I`` and height at most 1, so
its gradient is at most ``exp(-1/2) / sigma_s`` and its Hessian at most ``1 / sigma_s^2`` in
norm, everywhere, and so are their averages over any cloud. With ``history_tol = eps`` the
oldest steps' bumps are dropped while the coefficient mass dropped so far (decayed like the
rest), ``D``, stays within ``eps`` times the total coefficient mass of ``f`` (the rule of
:mod:`kernelgda.discriminator`). Every ``E[grad f]`` is then off by at most ``G D``, ``G =
sum_s w_s exp(-1/2) / sigma_s`` (``kernel.grad_bound``; reported as ``truncation_bound``), and
every ``E[Hess f]`` by at most ``D sum_s w_s / sigma_s^2``. About ``log(eps lam) / log(1 - a)``
steps are kept, so a step costs ``O(J^2 L d^3 / a)`` for ``J`` clusters and ``L`` scales,
whatever the number of points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _validate as V
from .bumps import BumpDiscriminator
from .clusters import Clusters, clusters_from_points, empirical_moments
from .game import GDA, KernelGAN
from .kernels import Gaussian, Multiscale
from .status import Status

__all__ = ["Clusters", "MomentTrajectory", "MomentBatch", "clusters_from_points",
           "empirical_moments", "gaussian_closure", "gaussian_closure_batch", "DIVERGENCE_FACTOR"]

#: A run is "diverged" when a cluster mean, or the square root of a cluster's spread, gets
#: further than ``DIVERGENCE_FACTOR * max(sigma, extent)`` from the true points' mean (the
#: rule of :func:`kernelgda.simulate`).
DIVERGENCE_FACTOR = 1e6


@dataclass(frozen=True, eq=False)
class MomentTrajectory:
    """Result of :func:`gaussian_closure`.

    Attributes
    ----------
    mean : (K + 1, J, d) array
        Cluster means ``e_j^k``; ``K = num_steps`` unless the run diverged (then the last
        row is the last finite state).
    cov : (K + 1, J, d, d) array
        Cluster covariances ``S_j^k``.
    spread : (K + 1, J) array
        ``tr S_j^k``.
    status : Status
        ``COMPLETED`` or ``DIVERGED``.
    message : str
    clusters : Clusters
        The start.
    truncation_bound : float
        Largest certified bound on the error of any ``E[grad f]`` caused by history
        truncation over the run (0 for the full history; module docstring).
    num_bumps : int
        Bumps in the discriminator at the end (true points, start, kept history).
    """

    mean: np.ndarray
    cov: np.ndarray
    spread: np.ndarray
    status: Status
    message: str
    clusters: Clusters
    truncation_bound: float = 0.0
    num_bumps: int = 0

    @property
    def num_steps(self) -> int:
        """Number of steps actually taken."""
        return self.mean.shape[0] - 1

    def mean_error(self, target) -> np.ndarray:
        """``|e_j^k - target_j|``, shape ``(K + 1, J)``; ``target`` is ``(J, d)``."""
        target = V.points(target, "target", d=self.mean.shape[2])
        if target.shape != self.mean.shape[1:]:
            raise ValueError(f"target must have shape {self.mean.shape[1:]}, got {target.shape}")
        return np.sqrt(((self.mean - target) ** 2).sum(-1))


def _scales(kernel):
    if isinstance(kernel, Multiscale):
        return np.array(kernel.sigmas), np.array(kernel.scale_weights)
    if isinstance(kernel, Gaussian):
        return np.array([kernel.sigma]), np.array([1.0])
    raise ValueError("gaussian_closure needs a Gaussian or Multiscale (sum of Gaussians) kernel: "
                     "only those keep the averaged discriminator a sum of Gaussian bumps "
                     f"(theory section 11); got {type(kernel).__name__}")


def gaussian_closure(gan: KernelGAN, gda: GDA, clusters: Clusters, num_steps: int = 1000, *,
                     start=None, history_tol: float | None = None,
                     divergence_bound: float | None = None) -> MomentTrajectory:
    """Run the Gaussian-closure moment model (theory section 11).

    Parameters
    ----------
    gan : KernelGAN
        With a :class:`~kernelgda.Gaussian` or :class:`~kernelgda.Multiscale` kernel.
    gda : GDA
        ``mode`` ``"simultaneous"`` or ``"alternating"`` (with any ``d_steps``).
    clusters : Clusters
        The start, e.g. from :func:`clusters_from_points`.
    num_steps : int
        Number of GDA steps ``T``.
    start : None or Equilibrium
        ``None`` starts at ``f0 = 0``; an equilibrium at its ``f* = (K(., X) p - K(., Y*) q) /
        lam`` (bumps at the true and equilibrium points, ``c = 1``; ``f* = 0`` when
        ``lam = 0``), as :func:`kernelgda.simulate`.
    history_tol : float in (0, 1), optional
        Relative truncation tolerance of the bump history (module docstring); the
        certified bound is ``MomentTrajectory.truncation_bound``. ``None`` keeps it all.
    divergence_bound : float, optional
        Default ``DIVERGENCE_FACTOR * max(sigma, extent)`` as in :func:`kernelgda.simulate`.

    Returns
    -------
    MomentTrajectory

    Notes
    -----
    Theory section 11: with ``a = eta_d lam``, the discriminator
    ``f+ = (1 - a) f + eta_d (K(., X) p - sum_j Q_j E_{N(e_j, S_j)} K(., y))`` stays a sum of
    Gaussian bumps, and each cluster moves by ``e_j+ = e_j + eta_g q_j E[grad f~]``,
    ``S_j+ = M_j S_j M_j^T`` with ``M_j = I + eta_g q_j E[Hess f~]`` (``f~ = f+`` alternating,
    ``f`` simultaneous), the expectations in closed form (:mod:`kernelgda.bumps`).
    Cost per step ``O(J N L d^3)`` with ``N`` bumps held: ``N ~ J k`` with the full history,
    ``N ~ J log(eps lam) / log(1 - eta_d lam)`` with ``history_tol = eps``. Independent of
    the number of points per cluster.

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=0.5)
    >>> cl = kg.moments.clusters_from_points([[-0.1], [0.1], [0.3]], 1 / 3, x_true=gan.x_true)
    >>> run = kg.moments.gaussian_closure(gan, kg.GDA(0.1, 0.1), cl, num_steps=200)
    >>> run.status.label, bool(run.mean_error([[0.0]])[-1, 0] < 0.1), run.spread.shape
    ('completed', True, (201, 1))
    """
    num_steps = V.integer(num_steps, "num_steps", minimum=0)
    cell = _cell(gan, gda, clusters, start, divergence_bound)
    out = _run([cell], num_steps, _tolerance(history_tol))
    taken = out["taken"][0]
    mean, cov = out["mean"][0, :taken + 1], out["cov"][0, :taken + 1]
    return MomentTrajectory(mean=mean, cov=cov, spread=np.trace(cov, axis1=2, axis2=3),
                            status=out["status"][0], message=out["message"][0], clusters=clusters,
                            truncation_bound=float(out["bound"][0]), num_bumps=int(out["num_bumps"][0]))


@dataclass(frozen=True, eq=False)
class MomentBatch:
    """Result of :func:`gaussian_closure_batch`: ``B`` runs of the closure.

    Attributes
    ----------
    mean : (B, K + 1, J, d) array
        Cluster means; rows after a diverged cell's last finite state are ``nan``.
    cov : (B, K + 1, J, d, d) array
    spread : (B, K + 1, J) array
    num_taken : (B,) int array
        Steps each cell took (``K`` unless it diverged).
    status : tuple of Status
    messages : tuple of str
    truncation_bound : (B,) array
    num_bumps : (B,) int array
    """

    mean: np.ndarray
    cov: np.ndarray
    spread: np.ndarray
    num_taken: np.ndarray
    status: tuple
    messages: tuple
    truncation_bound: np.ndarray
    num_bumps: np.ndarray

    def __len__(self) -> int:
        return self.mean.shape[0]


def gaussian_closure_batch(gans, gdas, clusters, num_steps: int = 1000, *, start=None,
                           history_tol: float | None = None, divergence_bound=None) -> MomentBatch:
    """Run the Gaussian closure for many parameter cells at once, one array operation per step.

    Cell ``b`` is ``gaussian_closure(gans[b], gdas[b], clusters[b], num_steps, start=start[b],
    ...)``; a single object (not a sequence) is shared by every cell. Cells share ``m``,
    ``J``, ``d``, the number of start points, ``mode`` and ``d_steps``; lam, learning rates,
    widths (and multiscale weights) and the clusters may differ. History truncation drops a
    step's bumps only when every cell allows it, so each cell's certified bound holds.

    Parameters
    ----------
    gans : KernelGAN or sequence of B KernelGAN
    gdas : GDA or sequence of B GDA
    clusters : Clusters or sequence of B Clusters
    num_steps : int
    start : None, Equilibrium or sequence of B of them
    history_tol : float in (0, 1), optional
    divergence_bound : float or sequence of B floats, optional
        As in :func:`gaussian_closure`.

    Returns
    -------
    MomentBatch

    Examples
    --------
    >>> import kernelgda as kg
    >>> gans = [kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(s), lam=0.5) for s in (0.5, 1.0)]
    >>> cl = kg.moments.Clusters([[0.2]], [[[0.01]]], 4, 0.25)
    >>> runs = kg.moments.gaussian_closure_batch(gans, kg.GDA(0.1, 0.4), cl, num_steps=50)
    >>> runs.mean.shape, [s.label for s in runs.status]
    ((2, 51, 1, 1), ['completed', 'completed'])
    """
    num_steps = V.integer(num_steps, "num_steps", minimum=0)
    args = {"gans": gans, "gdas": gdas, "clusters": clusters, "start": start,
            "divergence_bound": divergence_bound}
    seqs = {k: v for k, v in args.items() if isinstance(v, list | tuple)}
    sizes = {len(v) for v in seqs.values()}
    if len(sizes) > 1:
        raise ValueError(f"sequences must have one length, got {({k: len(v) for k, v in seqs.items()})}")
    num_cells = sizes.pop() if sizes else 1
    if num_cells == 0:
        raise ValueError("need at least one cell")
    pick = {k: (lambda b, v=v: v[b]) if k in seqs else (lambda b, v=v: v) for k, v in args.items()}
    cells = [_cell(pick["gans"](b), pick["gdas"](b), pick["clusters"](b), pick["start"](b),
                   pick["divergence_bound"](b)) for b in range(num_cells)]
    out = _run(cells, num_steps, _tolerance(history_tol))
    return MomentBatch(mean=out["mean"], cov=out["cov"],
                       spread=np.trace(out["cov"], axis1=-2, axis2=-1), num_taken=out["taken"],
                       status=tuple(out["status"]), messages=tuple(out["message"]),
                       truncation_bound=out["bound"], num_bumps=out["num_bumps"])


def _tolerance(history_tol):
    if history_tol is None:
        return None
    history_tol = V.scalar(history_tol, "history_tol", positive=True)
    if history_tol >= 1:
        raise ValueError(f"history_tol must be in (0, 1), got {history_tol}")
    return history_tol


def _cell(gan, gda, clusters, start, divergence_bound) -> dict:
    """Validate one cell's inputs at the public boundary."""
    if not isinstance(gan, KernelGAN):
        raise ValueError(f"gan must be a KernelGAN, got {type(gan).__name__}")
    if not isinstance(gda, GDA):
        raise ValueError(f"gda must be a GDA, got {type(gda).__name__}")
    if gda.mode not in ("simultaneous", "alternating"):
        raise ValueError(f"gaussian_closure supports mode 'simultaneous' or 'alternating', "
                         f"got {gda.mode!r}")
    if not isinstance(clusters, Clusters):
        raise ValueError("clusters must be kg.moments.Clusters (e.g. from clusters_from_points), "
                         f"got {type(clusters).__name__}")
    if clusters.mean.shape[1] != gan.d:
        raise ValueError(f"clusters have dimension {clusters.mean.shape[1]}, the game {gan.d}")
    sigmas, weights = _scales(gan.kernel)
    ys, qs = np.empty((0, gan.d)), np.empty(0)
    if start is not None:
        ys, qs = getattr(start, "y", None), getattr(start, "q", None)
        if ys is None or qs is None:
            raise ValueError("start must be None (f0 = 0) or an Equilibrium from find_equilibrium")
        ys, qs = gan.check_generated(ys, qs)
    center = gan.x_true.mean(axis=0)
    if divergence_bound is None:
        extent = max(np.abs(gan.x_true - center).max(), np.abs(clusters.mean - center).max(),
                     math.sqrt(max(np.trace(clusters.cov, axis1=1, axis2=2).max(), 0.0)))
        divergence_bound = DIVERGENCE_FACTOR * max(gan.kernel.sigma, extent)
    else:
        divergence_bound = V.scalar(divergence_bound, "divergence_bound", positive=True)
    return {"gan": gan, "gda": gda, "clusters": clusters, "sigmas": sigmas, "weights": weights,
            "ys": ys, "qs": qs, "center": center, "bound": divergence_bound,
            "c0": 1.0 / gan.lam if (start is not None and gan.lam > 0) else 0.0}


def _run(cells, num_steps, tol) -> dict:
    """The closure of theory section 11 for a list of validated cells, all at once."""
    first = cells[0]
    for c in cells[1:]:
        same = (c["gan"].m == first["gan"].m and c["clusters"].mean.shape == first["clusters"].mean.shape
                and c["ys"].shape == first["ys"].shape and c["gda"].mode == first["gda"].mode
                and c["gda"].d_steps == first["gda"].d_steps)
        if not same:
            raise ValueError("cells must share m, J, d, the number of start points, mode and d_steps")
    num_cells = len(cells)
    mode, num_clusters, d = first["gda"].mode, *first["clusters"].mean.shape
    num_scales = max(c["sigmas"].size for c in cells)
    sigmas, weights = np.ones((num_cells, num_scales)), np.zeros((num_cells, num_scales))
    for b, c in enumerate(cells):  # pad with weight-0 scales
        sigmas[b, :c["sigmas"].size], weights[b, :c["weights"].size] = c["sigmas"], c["weights"]
    col = {key: np.array([c[key] for c in cells]) for key in ("center", "bound", "c0", "qs")}
    per_step = first["gda"].d_steps if mode == "alternating" else 1
    bumps = BumpDiscriminator(
        sigmas, weights, np.array([np.concatenate([c["gan"].x_true, c["ys"]]) for c in cells]),
        np.array([c["gan"].p_true for c in cells]), col["qs"], col["c0"], num_clusters, tol,
        per_step * num_steps + 2)
    eta_d = np.array([c["gda"].eta_d for c in cells])
    decay = 1.0 - eta_d * np.array([c["gan"].lam for c in cells])
    new_coef = -eta_d[:, None] * np.array([c["clusters"].mass for c in cells])
    move = np.array([c["gda"].eta_g * c["clusters"].weight for c in cells])  # (B, J)
    grad_bound = (weights * math.exp(-0.5) / sigmas).sum(axis=1)
    e = np.array([c["clusters"].mean for c in cells])
    s = np.array([c["clusters"].cov for c in cells])
    means = np.full((num_cells, num_steps + 1, num_clusters, d), np.nan)
    covs = np.full((num_cells, num_steps + 1, num_clusters, d, d), np.nan)
    means[:, 0], covs[:, 0] = e, s
    taken = np.full(num_cells, num_steps)
    status = [Status.COMPLETED] * num_cells
    message = [f"completed {num_steps} steps"] * num_cells
    dropped = np.zeros(num_cells)
    eye = np.eye(d)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for k in range(num_steps):
            if mode == "simultaneous":
                grad, hess = bumps.field(e, s)
            for _ in range(per_step):
                bumps.decay(decay)
                bumps.add(eta_d, e, s, new_coef)
            if mode == "alternating":
                grad, hess = bumps.field(e, s)
            dropped = np.maximum(dropped, bumps.dropped)
            e = e + move[..., None] * grad
            lin = eye + move[..., None, None] * hess
            s = lin @ s @ lin.swapaxes(-1, -2)
            s = 0.5 * (s + s.swapaxes(-1, -2))
            finite = np.isfinite(e).all(axis=(1, 2)) & np.isfinite(s).all(axis=(1, 2, 3))
            reach = np.maximum(np.abs(e - col["center"][:, None, :]).max(axis=(1, 2)),
                               np.sqrt(np.maximum(np.trace(s, axis1=2, axis2=3).max(axis=1), 0.0)))
            bad = bumps.live & ~(finite & (reach <= col["bound"]))
            for b in np.flatnonzero(bad):
                status[b], taken[b] = Status.DIVERGED, k
                message[b] = (f"diverged at step {k + 1}: a cluster left the ball of radius "
                              f"{col['bound'][b]:.3g} around the true points' mean" if finite[b]
                              else f"diverged at step {k + 1}: non-finite values")
            if bad.any():  # freeze diverged cells at finite values; their rows stay nan
                bumps.retire(bad)
                e[bad], s[bad] = 0.0, 0.0
            live = bumps.live
            means[live, k + 1], covs[live, k + 1] = e[live], s[live]
    num_bumps = (first["gan"].m + first["ys"].shape[0] + num_clusters * bumps.num_slices) \
        * np.array([c["sigmas"].size for c in cells])
    return {"mean": means, "cov": covs, "taken": taken, "status": status, "message": message,
            "bound": grad_bound * dropped, "num_bumps": num_bumps}
