"""Gaussian clusters of generated points: their first two moments (theory section 11).

A cluster is ``n_j`` generated points of equal weight ``q_j`` (mass ``Q_j = n_j q_j``), described
by its mean ``e_j`` and covariance ``S_j`` (equal weights, as in theory section 9). These are
the states of the Gaussian-closure moment model, :mod:`kernelgda.moments`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as V

__all__ = ["Clusters", "empirical_moments", "clusters_from_points", "COV_TOL"]

#: Asymmetry and negative eigenvalues of a cluster covariance tolerated, relative to its size.
COV_TOL = 1e-10


@dataclass(frozen=True, eq=False)
class Clusters:
    """Gaussian clusters of generated points: what :func:`kernelgda.moments.gaussian_closure` starts from.

    Parameters
    ----------
    mean : (J, d) array
        Cluster means ``e_j``.
    cov : (J, d, d) array
        Cluster covariances ``S_j`` (symmetric positive semidefinite; zero for a point).
    num_points : (J,) array of int
        Points per cluster ``n_j >= 1``.
    weight : (J,) array or scalar
        Weight ``q_j > 0`` of each point of cluster ``j``; its mass is ``Q_j = n_j q_j``.
    """

    mean: np.ndarray
    cov: np.ndarray
    num_points: np.ndarray
    weight: np.ndarray

    def __post_init__(self):
        mean = V.points(self.mean, "mean")
        num, d = mean.shape
        cov = np.array(self.cov, dtype=float)
        if cov.shape != (num, d, d) or not np.all(np.isfinite(cov)):
            raise ValueError(f"cov must be a finite array of shape ({num}, {d}, {d}), got {cov.shape}")
        size = np.abs(cov).max(axis=(1, 2), initial=0.0)
        if np.any(np.abs(cov - cov.transpose(0, 2, 1)).max(axis=(1, 2)) > COV_TOL * size):
            raise ValueError("cov must be symmetric")
        cov = 0.5 * (cov + cov.transpose(0, 2, 1))
        if np.any(np.linalg.eigvalsh(cov).min(axis=1) < -COV_TOL * size):
            raise ValueError("cov must be positive semidefinite")
        counts = np.array(self.num_points)
        if counts.ndim == 0:
            counts = np.full(num, counts)
        if counts.shape != (num,) or counts.dtype.kind not in "iuf" or np.any(counts < 1) \
                or np.any(counts != np.round(counts)):
            raise ValueError(f"num_points must be {num} integers >= 1, got {self.num_points!r}")
        for name, value in (("mean", mean), ("cov", cov), ("num_points", counts.astype(int)),
                            ("weight", V.weights(self.weight, "weight", num))):
            value.flags.writeable = False
            object.__setattr__(self, name, value)

    @property
    def num_clusters(self) -> int:
        """``J``."""
        return self.mean.shape[0]

    @property
    def mass(self) -> np.ndarray:
        """``Q_j = n_j q_j``, shape ``(J,)``."""
        return self.num_points * self.weight


def empirical_moments(y, labels, num_clusters: int | None = None):
    """Mean and covariance of each labelled group of points, for one or many configurations.

    Parameters
    ----------
    y : (..., n, d) array
        Points (a trajectory ``(K + 1, n, d)`` works too).
    labels : (n,) array of int in ``[0, J)``
        Cluster of each point; every cluster must have a point.
    num_clusters : int, optional
        ``J``; default ``max(labels) + 1``.

    Returns
    -------
    mean : (..., J, d) array
    cov : (..., J, d, d) array
        ``(1/n_j) sum_{l in j} (y_l - e_j)(y_l - e_j)^T`` (equal weights, theory section 9).

    Examples
    --------
    >>> mean, cov = empirical_moments([[0.0], [2.0], [5.0]], [0, 0, 1])
    >>> mean[:, 0].tolist(), cov[:, 0, 0].tolist()
    ([1.0, 5.0], [1.0, 0.0])
    """
    y = np.asarray(y, dtype=float)
    labels = np.asarray(labels)
    if y.ndim < 2 or labels.shape != y.shape[-2:-1] or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be {y.shape[-2:-1]} integers matching y (..., n, d), "
                         f"got {labels.shape} {labels.dtype}")
    num = int(labels.max()) + 1 if num_clusters is None else int(num_clusters)
    if labels.min() < 0 or labels.max() >= num:
        raise ValueError(f"labels must lie in [0, {num})")
    onehot = (labels[:, None] == np.arange(num)[None, :]).astype(float)  # (n, J)
    counts = onehot.sum(axis=0)
    if np.any(counts == 0):
        raise ValueError(f"every cluster needs a point; empty: {np.flatnonzero(counts == 0).tolist()}")
    mean = np.einsum("nj,...nd->...jd", onehot, y) / counts[:, None]
    dev = y[..., None, :, :] - mean[..., :, None, :]  # (..., J, n, d)
    cov = np.einsum("nj,...jnd,...jne->...jde", onehot, dev, dev) / counts[:, None, None]
    return mean, cov


def clusters_from_points(y0, q, labels=None, *, x_true=None) -> Clusters:
    """Gaussian clusters matching the first two moments of labelled generated points.

    Parameters
    ----------
    y0 : (n, d) array
        Generated points.
    q : (n,) array or scalar
        Their weights; equal inside each cluster (the closure's assumption).
    labels : (n,) array of int, optional
        Cluster of each point, values ``0..J-1`` each used. Default: the index of the
        nearest row of ``x_true`` (then the clusters are the true points that have a
        nearest generated point, in their order).
    x_true : (m, d) array, optional
        True points, needed when ``labels`` is not given.

    Returns
    -------
    Clusters

    Examples
    --------
    >>> c = clusters_from_points([[0.1], [0.3], [2.0]], 0.5, x_true=[[0.0], [2.0]])
    >>> c.num_points.tolist(), c.mean[:, 0].round(6).tolist(), c.mass.tolist()
    ([2, 1], [0.2, 2.0], [1.0, 0.5])
    """
    y0 = V.points(y0, "y0")
    n, d = y0.shape
    q = V.weights(q, "q", n)
    if labels is None:
        if x_true is None:
            raise ValueError("give labels or x_true (labels default to the nearest true point)")
        x = V.points(x_true, "x_true", d=d)
        near = ((y0[:, None, :] - x[None, :, :]) ** 2).sum(-1).argmin(axis=1)
        labels = np.unique(near, return_inverse=True)[1]
    labels = np.asarray(labels)
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be {n} integers, got {labels!r}")
    mean, cov = empirical_moments(y0, labels)
    num = mean.shape[0]
    weight = np.empty(num)
    for j in range(num):
        qj = q[labels == j]
        if np.ptp(qj) > 1e-12 * qj.max():
            raise ValueError(f"q must be equal inside each cluster (cluster {j} has {qj})")
        weight[j] = qj.mean()
    counts = np.bincount(labels, minlength=num)
    return Clusters(mean, cov, counts, weight)
