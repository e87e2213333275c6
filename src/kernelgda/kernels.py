"""Radial kernels: values, gradients, Hessians and mixed second derivatives.

Every kernel here is radial, ``K(u, v) = phi(s)`` with ``s = |u - v|^2``, so all
derivatives follow from the profile ``phi`` and its first two derivatives
(theory section 1):

    grad_u K     = 2 phi'(s) r                           r = u - v
    hess_u K     = 2 phi'(s) I + 4 phi''(s) r r^T
    d_u d_v^T K  = -hess_u K                             (K depends on u - v only)

``curvature`` is ``gamma = -2 phi'(0)``, so that ``hess_u K(u, u) = -gamma I``;
it is ``1 / sigma^2`` for the Gaussian and rational quadratic kernels
(theory section 5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import _validate as V

__all__ = ["Kernel", "Gaussian", "RationalQuadratic", "Laplacian", "Multiscale", "KERNELS",
           "make_kernel"]


def _pair(u, v, name_u="u", name_v="v"):
    u = V.points(u, name_u)
    v = V.points(v, name_v, d=u.shape[1])
    return u, v


def sqdist(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Squared distances ``(nu, nv)`` by the matrix-product form, clamped at zero."""
    s = (u * u).sum(1)[:, None] + (v * v).sum(1)[None, :] - 2.0 * (u @ v.T)
    np.maximum(s, 0.0, out=s)
    return s


@dataclass(frozen=True)
class Kernel:
    """Base class of a radial kernel ``K(u, v) = phi(|u - v|^2)``.

    Subclasses define ``profile``, ``dprofile`` and ``d2profile`` (``phi`` and its
    derivatives with respect to ``s = |u - v|^2``), ``curvature`` and
    ``grad_bound``.
    """

    sigma: float

    smooth = True
    name = "kernel"

    def __post_init__(self):
        object.__setattr__(self, "sigma", V.scalar(self.sigma, "sigma", positive=True))

    # -- profile, to be defined by subclasses ---------------------------------------
    def profile(self, s):  # pragma: no cover - abstract
        raise NotImplementedError

    def dprofile(self, s):  # pragma: no cover - abstract
        raise NotImplementedError

    def d2profile(self, s):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def curvature(self) -> float:
        """``gamma = -2 phi'(0)``: ``hess_u K(u, u) = -gamma I``."""
        return float(-2.0 * self.dprofile(np.zeros(1))[0])

    # -- second-moment model coefficients (theory section 9): K = kappa(|u - v|^2 / 2),
    # kappa(t) = phi(2 t), so kappa'(0) = 2 phi'(0) and kappa''(0) = 4 phi''(0).
    @property
    def g(self) -> float:
        """``g = -kappa'(0) = -2 phi'(0)`` (the curvature ``gamma``; theory section 9)."""
        self._require_smooth("g")
        return self.curvature

    @property
    def g2(self) -> float:
        """``g2 = kappa''(0) = 4 phi''(0)`` (Gaussian ``1 / sigma^4``; theory section 9)."""
        self._require_smooth("g2")
        return float(4.0 * self.d2profile(np.zeros(1))[0])

    def _require_smooth(self, what):
        if not self.smooth:
            raise ValueError(f"the {self.name} kernel has no second derivative at 0, so it has no "
                             f"{what} and no second-moment model (theory section 9)")

    @property
    def grad_bound(self) -> float:
        """An upper bound on ``|grad_u K(u, v)|`` (the maximum itself for the single-scale
        kernels), used by the truncation bound (theory section 2)."""
        raise NotImplementedError  # pragma: no cover

    def params(self) -> dict:
        """The kernel's parameters, for records and scenario files."""
        return {"kind": self.name, "sigma": self.sigma}

    # -- public evaluations ----------------------------------------------------------
    def __call__(self, u, v) -> np.ndarray:
        """Kernel matrix ``K(u_a, v_b)``, shape ``(nu, nv)``."""
        u, v = _pair(u, v)
        return self.profile(sqdist(u, v))

    def grad(self, u, v) -> np.ndarray:
        """``d/du K(u_a, v_b)``, shape ``(nu, nv, d)``."""
        u, v = _pair(u, v)
        r = u[:, None, :] - v[None, :, :]
        return self._grad_r(r)

    def hessian(self, u, v) -> np.ndarray:
        """``d^2/du^2 K(u_a, v_b)``, shape ``(nu, nv, d, d)``."""
        u, v = _pair(u, v)
        return self._hess_r(u[:, None, :] - v[None, :, :])

    def mixed(self, u, v) -> np.ndarray:
        """``d/du d/dv^T K(u_a, v_b)``, shape ``(nu, nv, d, d)``; equals ``-hessian``."""
        return -self.hessian(u, v)

    # -- internal, trusted inputs ------------------------------------------------------
    def _grad_r(self, r: np.ndarray) -> np.ndarray:
        s = (r * r).sum(-1)
        return 2.0 * self.dprofile(s)[..., None] * r

    def _hess_r(self, r: np.ndarray) -> np.ndarray:
        s = (r * r).sum(-1)
        d = r.shape[-1]
        eye = np.eye(d)
        return (2.0 * self.dprofile(s)[..., None, None] * eye
                + 4.0 * self.d2profile(s)[..., None, None] * r[..., :, None] * r[..., None, :])

    def grad_sum(self, y: np.ndarray, z: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Gradient of the expansion ``f = sum_c w_c K(., z_c)`` at the rows of ``y``.

        Two matrix products and no ``(n, M, d)`` array (theory section 2):
        ``grad f(Y) = 2 ( (G 1) * Y - G Z )`` with ``G = phi'(S) diag(w)``.

        Parameters
        ----------
        y : (n, d) evaluation points.
        z : (M, d) centres.
        w : (M,) coefficients.

        Returns
        -------
        (n, d) array.
        """
        # Coordinates from the centres' mean: the matrix-product forms of |y - z|^2 and of
        # (G 1) y - G z cancel terms of size |y|^2 and |y|, so far from the origin they lose
        # digits; both are translation invariant.
        origin = z.mean(axis=0)
        y, z = y - origin, z - origin
        g = self.dprofile(sqdist(y, z))
        g *= w
        return 2.0 * (g.sum(1)[:, None] * y - g @ z)

    def value_sum(self, y: np.ndarray, z: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Value of the expansion ``sum_c w_c K(y, z_c)`` at the rows of ``y``, shape ``(n,)``."""
        return self.profile(sqdist(y, z)) @ w


@dataclass(frozen=True)
class Gaussian(Kernel):
    """Gaussian kernel ``K(u, v) = exp(-|u - v|^2 / (2 sigma^2))``.

    Examples
    --------
    >>> k = Gaussian(sigma=0.5)
    >>> float(k([[0.0]], [[0.5]])[0, 0]) == float(np.exp(-0.5))
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
class RationalQuadratic(Kernel):
    """Rational quadratic kernel ``(1 + |u - v|^2 / (2 alpha sigma^2))^(-alpha)``.

    Tends to the Gaussian as ``alpha -> inf``; ``hess_u K(u, u) = -I / sigma^2``.
    """

    alpha: float = 1.0
    name = "rational_quadratic"

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "alpha", V.scalar(self.alpha, "alpha", positive=True))

    def _base(self, s):
        return 1.0 + s / (2.0 * self.alpha * self.sigma**2)

    def profile(self, s):
        return self._base(s) ** (-self.alpha)

    def dprofile(self, s):
        return -0.5 / self.sigma**2 * self._base(s) ** (-self.alpha - 1.0)

    def d2profile(self, s):
        a = self.alpha
        return (a + 1.0) / (4.0 * a * self.sigma**4) * self._base(s) ** (-a - 2.0)

    @property
    def curvature(self) -> float:
        return 1.0 / self.sigma**2

    @property
    def grad_bound(self) -> float:
        # |grad K| = (r / sigma^2) (1 + r^2/(2 alpha sigma^2))^(-alpha-1), largest at
        # r^2 = alpha sigma^2 / (alpha + 1/2).
        r2 = self.alpha * self.sigma**2 / (self.alpha + 0.5)
        return math.sqrt(r2) / self.sigma**2 * float(self._base(r2)) ** (-self.alpha - 1.0)

    def params(self) -> dict:
        return {**super().params(), "alpha": self.alpha}


@dataclass(frozen=True)
class Laplacian(Kernel):
    """Laplacian kernel ``K(u, v) = exp(-|u - v| / sigma)``.

    Not differentiable at ``u = v``: the gradient there is taken as 0 (the
    symmetric subgradient), and second derivatives at coincident points raise a
    ``ValueError``. Use it for simulation; linearization needs distinct points.
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
        scale = np.where(dist > 0, -np.exp(-dist / self.sigma) / (self.sigma * safe), 0.0)
        return scale[..., None] * r

    def grad_sum(self, y, z, w):
        # The matrix-product form divides by |r|; use explicit differences instead.
        return np.einsum("nmd,m->nd", self._grad_r(y[:, None, :] - z[None, :, :]), w)

    def _value_r(self, r):
        # Explicit differences: the square root would turn the ~eps |u|^2 rounding of the
        # matrix-product distance into a ~sqrt(eps) |u| / sigma error near u = v.
        return np.exp(-np.sqrt((r * r).sum(-1)) / self.sigma)

    def __call__(self, u, v):
        u, v = _pair(u, v)
        return self._value_r(u[:, None, :] - v[None, :, :])

    def value_sum(self, y, z, w):
        return self._value_r(y[:, None, :] - z[None, :, :]) @ w


@dataclass(frozen=True)
class Multiscale(Kernel):
    """Sum of Gaussians ``sum_i w_i exp(-|u - v|^2 / (2 sigma_i^2))``.

    ``sigma`` is set to the smallest bandwidth (the scale of the linear regime);
    ``curvature = sum_i w_i / sigma_i^2``.
    """

    sigma: float = field(init=False, default=1.0)
    sigmas: tuple = (1.0,)
    scale_weights: tuple | None = None
    name = "multiscale"

    def __post_init__(self):
        sig = np.atleast_1d(np.array(self.sigmas, dtype=float))
        if sig.ndim != 1 or sig.size == 0 or not np.all(np.isfinite(sig)) or np.any(sig <= 0):
            raise ValueError(f"sigmas must be a non-empty list of positive numbers, got {self.sigmas}")
        wts = np.ones_like(sig) if self.scale_weights is None else V.weights(
            self.scale_weights, "scale_weights", sig.size)
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


KERNELS = {
    "gaussian": Gaussian,
    "rational_quadratic": RationalQuadratic,
    "laplacian": Laplacian,
    "multiscale": Multiscale,
}


def make_kernel(kind: str = "gaussian", **params) -> Kernel:
    """Build a kernel from its registry name and parameters (``make_kernel("gaussian", sigma=1)``)."""
    V.choice(kind, "kernel kind", tuple(KERNELS))
    try:
        return KERNELS[kind](**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters for kernel {kind!r}: {exc}") from None
