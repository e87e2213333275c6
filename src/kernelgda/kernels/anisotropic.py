"""The anisotropic Gaussian kernel ``exp(-(u - v)^T M (u - v) / 2)`` with a fixed metric ``M``.

With ``r = u - v`` and ``K = exp(-r^T M r / 2)`` (``M`` symmetric positive semidefinite):

    grad_u K    = -K M r
    hess_u K    = K (M r r^T M - M)
    d_u d_v^T K = -hess_u K                      (K depends on u - v only)

``M = I / sigma^2`` is :class:`~kernelgda.kernels.Gaussian`. Translation invariant but not
radial (``hess_u K(u, u) = -M``, not ``-gamma I``), so the isolated closed forms and the
second-moment model refuse it and the general linearization (theory section 4) applies.
It is the kernel whose metric the learned-metric discriminator of
:mod:`kernelgda.discriminator.metric` updates during a run (theory section 13).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import PARAM_MAX, PARAM_MIN, Kernel

__all__ = ["AnisotropicGaussian", "check_metric", "METRIC_RTOL"]

#: Relative tolerance of the symmetry and semidefiniteness checks of ``M`` (eigenvalues above
#: ``-METRIC_RTOL * max |eig|`` count as zero and are clipped).
METRIC_RTOL = 1e-12


def check_metric(M, name: str = "M") -> np.ndarray:
    """``M`` as a symmetric positive semidefinite ``(d, d)`` float array with a positive
    eigenvalue in ``[PARAM_MIN, PARAM_MAX]`` (``ValueError`` naming ``name`` otherwise)."""
    try:
        M = np.array(M, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real square matrix, got {M!r}") from None
    if M.ndim == 0:
        M = M.reshape(1, 1)
    if M.ndim != 2 or M.shape[0] != M.shape[1] or M.shape[0] == 0:
        raise ValueError(f"{name} must be a square (d, d) matrix, got shape {M.shape}")
    if not np.isfinite(M).all():
        raise ValueError(f"{name} must be finite")
    scale = np.abs(M).max()
    if np.abs(M - M.T).max() > METRIC_RTOL * scale:
        raise ValueError(f"{name} must be symmetric")
    M = 0.5 * (M + M.T)
    eig = np.linalg.eigvalsh(M)
    if eig.min() < -METRIC_RTOL * max(scale, PARAM_MIN):
        raise ValueError(f"{name} must be positive semidefinite, its smallest eigenvalue is {eig.min():.3g}")
    if not PARAM_MIN <= eig.max() <= PARAM_MAX:
        raise ValueError(f"{name} must have its largest eigenvalue in [{PARAM_MIN:g}, {PARAM_MAX:g}], "
                         f"got {eig.max():.3g}")
    return M


@dataclass(frozen=True, eq=False)
class AnisotropicGaussian(Kernel):
    """Gaussian kernel with a metric: ``K(u, v) = exp(-(u - v)^T M (u - v) / 2)``.

    Parameters
    ----------
    M : (d, d) array_like
        Symmetric positive semidefinite metric (a scalar is a ``1 x 1`` metric). Its largest
        eigenvalue sets ``length_scale = 1 / sqrt(max eig M)``.

    Examples
    --------
    >>> k = AnisotropicGaussian([[4.0, 0.0], [0.0, 1.0]])
    >>> float(k([[0.5, 0.0]], [[0.0, 0.0]])[0, 0]) == float(np.exp(-0.5))
    True
    >>> k.length_scale
    0.5
    """

    M: np.ndarray

    name = "anisotropic_gaussian"

    def __post_init__(self):
        M = check_metric(self.M)
        M.setflags(write=False)
        object.__setattr__(self, "M", M)

    def __eq__(self, other):
        return isinstance(other, AnisotropicGaussian) and np.array_equal(self.M, other.M)

    __hash__ = None

    @property
    def length_scale(self) -> float:
        return float(1.0 / np.sqrt(np.linalg.eigvalsh(self.M).max()))

    def params(self) -> dict:
        return {"kind": self.name, "M": self.M.tolist()}

    def grad_scale(self, points) -> float:
        """``max |grad_u K| = sqrt(max eig M) exp(-1/2)`` over all of ``R^d``."""
        return float(np.exp(-0.5) / self.length_scale)

    def check_dim(self, y):
        if y.shape[1] != self.M.shape[0]:
            raise ValueError(f"points have dimension {y.shape[1]} but the metric M is "
                             f"{self.M.shape[0]} x {self.M.shape[0]}")

    def pair_value(self, y, z):
        self.check_dim(y)
        r = y[:, None, :] - z[None, :, :]
        return np.exp(-0.5 * np.einsum("nmi,ij,nmj->nm", r, self.M, r))

    def pair_grad(self, y, z):
        self.check_dim(y)
        r = y[:, None, :] - z[None, :, :]
        Mr = r @ self.M
        return -np.exp(-0.5 * (Mr * r).sum(-1))[..., None] * Mr

    def pair_hessian(self, y, z):
        self.check_dim(y)
        r = y[:, None, :] - z[None, :, :]
        Mr = r @ self.M
        K = np.exp(-0.5 * (Mr * r).sum(-1))[..., None, None]
        return K * (Mr[..., :, None] * Mr[..., None, :] - self.M)

    def pair_mixed(self, y, z):
        return -self.pair_hessian(y, z)

    def grad_sum(self, y, z, w):
        """Gradient of ``f = sum_c w_c K(., z_c)`` at the rows of ``y``:
        ``grad f(Y) = -((G 1) * Y - G Z) M`` with ``G = K(Y, Z) diag(w)`` (no ``(n, M, d)`` array;
        coordinates from the centres' mean, where the matrix-product distances keep their digits)."""
        self.check_dim(y)
        origin = z.mean(axis=0) if z.shape[0] else np.zeros(y.shape[1])
        y, z = y - origin, z - origin
        yM, zM = y @ self.M, z @ self.M
        s = (yM * y).sum(1)[:, None] + (zM * z).sum(1)[None, :] - 2.0 * (yM @ z.T)
        np.maximum(s, 0.0, out=s)
        g = np.exp(-0.5 * s) * w
        return -(g.sum(1)[:, None] * yM - g @ zM)
