"""The radial kernels: Gaussian, rational quadratic, Laplacian and multiscale Gaussian sums.

Each is a small frozen dataclass that defines its profile ``phi(s)``, ``s = |u - v|^2``, and
the two derivatives; :class:`~kernelgda.kernels.base.RadialKernel` derives everything else
(theory sections 1, 5 and 9).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import _validate as V
from .base import Kernel, RadialKernel, check_param

__all__ = ["Gaussian", "RationalQuadratic", "Laplacian", "Multiscale"]


@dataclass(frozen=True)
class Gaussian(RadialKernel):
    """Gaussian kernel ``K(u, v) = exp(-|u - v|^2 / (2 sigma^2))``.

    Parameters
    ----------
    sigma : float
        Bandwidth, in ``[1e-50, 1e50]``.

    Examples
    --------
    >>> k = Gaussian(sigma=0.5)
    >>> bool(np.isclose(k([[0.0]], [[0.5]])[0, 0], np.exp(-0.5), rtol=1e-14, atol=0))
    True
    """

    name = "gaussian"

    def profile(self, s):
        return np.exp(-s / (2.0 * self.sigma**2))

    def dprofile(self, s):
        return np.exp(-s / (2.0 * self.sigma**2)) * (-0.5 / self.sigma**2)

    def d2profile(self, s):
        return np.exp(-s / (2.0 * self.sigma**2)) * (0.25 / self.sigma**4)

    @property
    def curvature(self) -> float:
        return 1.0 / self.sigma**2

    @property
    def grad_bound(self) -> float:
        # |grad K| = (|r| / sigma^2) exp(-|r|^2 / (2 sigma^2)), largest at |r| = sigma.
        return math.exp(-0.5) / self.sigma


@dataclass(frozen=True)
class RationalQuadratic(RadialKernel):
    """Rational quadratic kernel ``(1 + |u - v|^2 / (2 alpha sigma^2))^(-alpha)``.

    Tends to the Gaussian as ``alpha -> inf``; ``hess_u K(u, u) = -I / sigma^2``.

    Parameters
    ----------
    sigma : float
        Bandwidth, in ``[1e-50, 1e50]``.
    alpha : float
        Shape (a scale mixture of Gaussians), in ``[1e-50, 1e50]``.

    Examples
    --------
    >>> RationalQuadratic(sigma=0.5, alpha=2.0)([[0.0]], [[0.5]])   # (1 + 1/4)^-2
    array([[0.64]])
    """

    alpha: float = 1.0
    name = "rational_quadratic"

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "alpha", check_param(self.alpha, "alpha"))

    def _power(self, s, k):
        # base^(-alpha - k) as exp(-(alpha + k) log1p(.)): for large alpha the base rounds to
        # 1 while the power tends to exp(-s / (2 sigma^2)).
        return np.exp(-(self.alpha + k) * np.log1p(s / (2.0 * self.alpha * self.sigma**2)))

    def profile(self, s):
        return self._power(s, 0)

    def dprofile(self, s):
        return -0.5 / self.sigma**2 * self._power(s, 1)

    def d2profile(self, s):
        a = self.alpha
        return (a + 1.0) / (4.0 * a * self.sigma**4) * self._power(s, 2)

    @property
    def curvature(self) -> float:
        return 1.0 / self.sigma**2

    @property
    def grad_bound(self) -> float:
        # |grad K| = (r / sigma^2) (1 + r^2/(2 alpha sigma^2))^(-alpha-1), largest at
        # r^2 = alpha sigma^2 / (alpha + 1/2).
        r2 = self.alpha * self.sigma**2 / (self.alpha + 0.5)
        return math.sqrt(r2) / self.sigma**2 * float(self._power(r2, 1))

    def params(self) -> dict:
        return {**super().params(), "alpha": self.alpha}


@dataclass(frozen=True)
class Laplacian(RadialKernel):
    """Laplacian kernel ``K(u, v) = exp(-|u - v| / sigma)``.

    Not differentiable at ``u = v``: the gradient there is taken as 0 (the
    symmetric subgradient), and second derivatives at coincident points raise a
    ``ValueError``. Use it for simulation; linearization needs distinct points.

    Parameters
    ----------
    sigma : float
        Bandwidth, in ``[1e-50, 1e50]``.

    Examples
    --------
    >>> bool(np.isclose(Laplacian(sigma=0.5)([[0.0]], [[0.5]])[0, 0], np.exp(-1.0)))
    True
    """

    name = "laplacian"
    smooth = False

    def profile(self, s):
        return np.exp(-np.sqrt(s) / self.sigma)

    def dprofile(self, s):
        s = np.asarray(s, dtype=float)
        if np.any(s <= 0):
            raise ValueError("Laplacian kernel is not differentiable at coincident points "
                             "(u = v); linearization needs distinct points")
        rt = np.sqrt(s)
        return -np.exp(-rt / self.sigma) / (2.0 * self.sigma * rt)

    def d2profile(self, s):
        s = np.asarray(s, dtype=float)
        if np.any(s <= 0):
            raise ValueError("Laplacian kernel is not differentiable at coincident points "
                             "(u = v); linearization needs distinct points")
        rt = np.sqrt(s)
        e = np.exp(-rt / self.sigma)
        return e / (4.0 * self.sigma**2 * s) + e / (4.0 * self.sigma * s * rt)

    @property
    def curvature(self) -> float:
        raise ValueError("Laplacian kernel has no curvature at 0 (not differentiable)")

    @property
    def grad_bound(self) -> float:
        return 1.0 / self.sigma

    def _grad_r(self, r):
        dist = np.sqrt((r * r).sum(-1))
        # Subgradient 0 at coincident points; elsewhere -exp(-|r|/sigma) r / (sigma |r|).
        safe = np.where(dist > 0, dist, 1.0)
        unit = r / safe[..., None]  # |unit| <= 1: no K / (sigma |r|) that could overflow
        return (-np.exp(-dist / self.sigma) / self.sigma)[..., None] * unit

    def _hess_r(self, r):
        # hess_u K = K (n n^T / sigma^2 + (n n^T - I) / (sigma |r|)), n = r / |r|: the
        # profile form 4 phi'' r r^T would form K / (sigma |r|^3) and overflow long before this.
        dist = np.sqrt((r * r).sum(-1))
        if np.any(dist <= 0):
            self.d2profile(dist)  # raises: not differentiable at coincident points
        unit = r / dist[..., None]
        k = np.exp(-dist / self.sigma) / self.sigma
        with np.errstate(over="ignore"):
            across = k / dist
        if not np.all(np.isfinite(across)):
            raise ValueError("the Laplacian kernel's Hessian ~ 1 / (sigma |u - v|) overflows float64 "
                             f"at |u - v| = {dist.min():.3g}")
        nn = unit[..., :, None] * unit[..., None, :]
        # (n n^T - I) formed first: in 1-D it is exactly 0, no cancellation of the 1 / |r| terms.
        return (k / self.sigma)[..., None, None] * nn + across[..., None, None] * (nn - np.eye(r.shape[-1]))

    def grad_sum(self, y, z, w):
        # The matrix-product form divides by |r|; use explicit differences instead.
        return Kernel.grad_sum(self, y, z, w)

    def pair_value(self, y, z):
        # Explicit differences: the square root would turn the ~eps |u|^2 rounding of the
        # matrix-product distance into a ~sqrt(eps) |u| / sigma error near u = v.
        r = y[:, None, :] - z[None, :, :]
        return np.exp(-np.sqrt((r * r).sum(-1)) / self.sigma)


#: Most bandwidths of a :class:`Multiscale` kernel (each evaluation is a sum over them).
MAX_SCALES = 1000


@dataclass(frozen=True)
class Multiscale(RadialKernel):
    """Sum of Gaussians ``sum_i w_i exp(-|u - v|^2 / (2 sigma_i^2))``.

    ``sigma`` is set to the smallest bandwidth (the scale of the linear regime);
    ``curvature = sum_i w_i / sigma_i^2``.

    Parameters
    ----------
    sigmas : tuple of float
        Bandwidths ``sigma_i``, each in ``[1e-50, 1e50]``.
    scale_weights : tuple of float, optional
        Weights ``w_i`` (default 1 each).

    Examples
    --------
    >>> k = Multiscale(sigmas=(0.1, 1.0), scale_weights=(1.0, 0.5))
    >>> k.sigma, round(k.curvature, 9)          # 1 / 0.1^2 + 0.5 / 1^2
    (0.1, 100.5)
    """

    sigma: float = field(init=False, default=1.0)
    sigmas: tuple = (1.0,)
    scale_weights: tuple | None = None
    name = "multiscale"

    def __post_init__(self):
        sig = np.atleast_1d(V.reals(self.sigmas, "sigmas"))
        if sig.ndim != 1 or sig.size == 0 or not np.all(np.isfinite(sig)) or np.any(sig <= 0):
            raise ValueError(f"sigmas must be a non-empty list of positive numbers, got {self.sigmas}")
        if sig.size > MAX_SCALES:  # every kernel evaluation loops over the scales
            raise ValueError(f"sigmas: {sig.size} scales, at most {MAX_SCALES}; merge nearby bandwidths")
        wts = np.ones_like(sig) if self.scale_weights is None else V.weights(
            self.scale_weights, "scale_weights", sig.size)
        for name, values in (("sigmas", sig), ("scale_weights", wts)):
            for value in values:
                check_param(value, name)
        object.__setattr__(self, "sigmas", tuple(sig.tolist()))
        object.__setattr__(self, "scale_weights", tuple(wts.tolist()))
        object.__setattr__(self, "sigma", float(sig.min()))

    def _terms(self, s, order):
        s = np.asarray(s, dtype=float)
        out = np.zeros_like(s)
        for sg, wt in zip(self.sigmas, self.scale_weights, strict=True):
            out = out + wt * (-0.5 / sg**2) ** order * np.exp(-s / (2.0 * sg**2))
        return out

    def profile(self, s):
        return self._terms(s, 0)

    def dprofile(self, s):
        return self._terms(s, 1)

    def d2profile(self, s):
        return self._terms(s, 2)

    @property
    def curvature(self) -> float:
        return float(sum(w / s**2 for s, w in zip(self.sigmas, self.scale_weights, strict=True)))

    @property
    def grad_bound(self) -> float:
        return float(sum(w * math.exp(-0.5) / s
                         for s, w in zip(self.sigmas, self.scale_weights, strict=True)))

    def params(self) -> dict:
        return {"kind": self.name, "sigmas": list(self.sigmas),
                "scale_weights": list(self.scale_weights)}
