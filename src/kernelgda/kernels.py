"""Kernels: values, gradients, Hessians and mixed second derivatives.

:class:`Kernel` is the interface the rest of the library uses: pairwise values
and derivatives in the first argument (``pair_value``, ``pair_grad``,
``pair_hessian``) and the mixed derivative ``pair_mixed = d_u d_v^T K``, which
theory section 4 needs separately from the Hessian. :class:`NNGP` (theory
section 10) is neither radial nor translation invariant; its recursion is in
:mod:`kernelgda.arccos`.

The radial kernels (:class:`RadialKernel`), ``K(u, v) = phi(s)`` with
``s = |u - v|^2``, derive everything from the profile ``phi`` and its first two
derivatives (theory section 1):

    grad_u K     = 2 phi'(s) r                           r = u - v
    hess_u K     = 2 phi'(s) I + 4 phi''(s) r r^T
    d_u d_v^T K  = -hess_u K                             (K depends on u - v only)

``curvature`` is ``gamma = -2 phi'(0)``, so that ``hess_u K(u, u) = -gamma I``;
it is ``1 / sigma^2`` for the Gaussian and rational quadratic kernels
(theory section 5).

Parameters are refused (``ValueError`` naming them) outside the range where every
derived quantity is a finite, normal float64: bandwidths, ``alpha``, multiscale
weights and a positive NNGP ``bias`` lie in ``[PARAM_MIN, PARAM_MAX] = [1e-50, 1e50]``,
so ``1 / sigma^4`` (the second-moment model's ``g2``), ``(alpha + 1) / (4 alpha sigma^4)``
and ``grad_bound`` stay within ``1e+-250``; with coordinates within
:data:`kernelgda._validate.COORD_MAX` ``= 1e50`` so does every ``|u - v|^2 / sigma^2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import _validate as V
from .arccos import nngp_derivatives, nngp_value

__all__ = ["Kernel", "RadialKernel", "Gaussian", "RationalQuadratic", "Laplacian", "Multiscale", "NNGP",
           "KERNELS", "make_kernel", "PARAM_MIN", "PARAM_MAX", "MAX_DEPTH"]

#: Range of bandwidths, ``alpha``, multiscale weights and a positive NNGP bias (module docstring).
PARAM_MIN, PARAM_MAX = 1e-50, 1e50
#: Deepest NNGP recursion accepted (each layer is a pass over all pairs).
MAX_DEPTH = 1000


def _param(value, name: str) -> float:
    """A finite kernel parameter in ``[PARAM_MIN, PARAM_MAX]`` (module docstring)."""
    value = V.scalar(value, name, positive=True)
    if not PARAM_MIN <= value <= PARAM_MAX:
        raise ValueError(f"{name} must lie in [{PARAM_MIN:g}, {PARAM_MAX:g}] so that the kernel's "
                         f"derivatives are finite float64 numbers, got {value:g}")
    return value


def _pair(u, v, name_u="u", name_v="v"):
    u = V.points(u, name_u)
    v = V.points(v, name_v, d=u.shape[1])
    return u, v


def sqdist(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Squared distances ``(nu, nv)`` by the matrix-product form, clamped at zero."""
    s = (u * u).sum(1)[:, None] + (v * v).sum(1)[None, :] - 2.0 * (u @ v.T)
    np.maximum(s, 0.0, out=s)
    return s


class Kernel:
    """Base class of every kernel ``K(u, v)`` on ``R^d``: values and derivatives.

    The library's dynamics, fixed points and linearization read a kernel only
    through this interface, so a kernel that is neither radial nor translation
    invariant (:class:`NNGP`, a learned metric, an NTK) needs no change there.

    The ``pair_*`` methods are the fast internal interface: they take trusted
    float64 arrays ``y (n, d)`` and ``z (m, d)`` (no validation) and return
    all pairs. Derivatives are in the *first* argument, plus the mixed
    derivative:

    ============================  =================  ==================================
    method                        shape              entry ``[a, b]``
    ============================  =================  ==================================
    ``pair_value(y, z)``          ``(n, m)``         ``K(y_a, z_b)``
    ``pair_grad(y, z)``           ``(n, m, d)``      ``grad_u K(u, v)`` at ``(y_a, z_b)``
    ``pair_hessian(y, z)``        ``(n, m, d, d)``   ``d_u d_u^T K``
    ``pair_mixed(y, z)``          ``(n, m, d, d)``   ``d_u d_v^T K`` (row: ``u``, column: ``v``)
    ============================  =================  ==================================

    Theory section 4 uses both second derivatives: ``hess f*`` needs the
    Hessian in ``u`` and the coupling ``C`` the mixed one. They agree up to sign
    only for translation-invariant kernels (``mixed = -hessian``).
    ``__call__``, :meth:`grad`, :meth:`hessian` and :meth:`mixed` are the same
    with validated input.

    Subclasses also define ``length_scale`` (the distance on which the kernel
    changes: step caps and merge tolerances are multiples of it),
    :meth:`grad_scale`, ``params`` and ``name``.
    """

    #: Twice differentiable everywhere, coincident points included.
    smooth = True
    #: ``K(u, v) = phi(|u - v|^2)`` (then ``mixed = -hessian`` and ``curvature`` exists).
    radial = False
    name = "kernel"

    # -- to be defined by subclasses ------------------------------------------------
    def pair_value(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def pair_grad(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def pair_hessian(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def pair_mixed(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    @property
    def length_scale(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def params(self) -> dict:  # pragma: no cover - abstract
        """The kernel's parameters, for records and scenario files."""
        raise NotImplementedError

    @property
    def curvature(self) -> float:
        """``gamma`` with ``hess_u K(u, u) = -gamma I`` (radial kernels only, theory section 5)."""
        raise ValueError(f"the {self.name} kernel is not radial: its Hessian at coincident points "
                         "is not -gamma I, so it has no curvature gamma and the isolated closed forms "
                         "(theory section 5) do not apply; use linearize (theory section 4)")

    def grad_scale(self, points: np.ndarray) -> float:
        """A scale for ``|grad_u K|`` among ``points`` (trusted ``(N, d)`` array).

        Tolerances on sums of kernel gradients are relative to it. Radial
        kernels return :attr:`grad_bound`, a bound over all of ``R^d``; a kernel
        whose gradient grows with its arguments returns the largest
        ``|grad_u K(a, b)|`` over pairs of ``points``.
        """
        g = self.pair_grad(points, points)
        return float(np.sqrt((g * g).sum(-1)).max())

    # -- public evaluations (validated) ------------------------------------------------
    def __call__(self, u, v) -> np.ndarray:
        """Kernel matrix ``K(u_a, v_b)``, shape ``(nu, nv)``."""
        return self.pair_value(*_pair(u, v))

    def grad(self, u, v) -> np.ndarray:
        """``d/du K(u_a, v_b)``, shape ``(nu, nv, d)``."""
        return self.pair_grad(*_pair(u, v))

    def hessian(self, u, v) -> np.ndarray:
        """``d^2/du^2 K(u_a, v_b)``, shape ``(nu, nv, d, d)``."""
        return self.pair_hessian(*_pair(u, v))

    def mixed(self, u, v) -> np.ndarray:
        """``d/du d/dv^T K(u_a, v_b)``, shape ``(nu, nv, d, d)``."""
        return self.pair_mixed(*_pair(u, v))

    # -- kernel expansions (trusted inputs) ----------------------------------------------
    def grad_sum(self, y: np.ndarray, z: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Gradient of the expansion ``f = sum_c w_c K(., z_c)`` at the rows of ``y``, ``(n, d)``."""
        return np.einsum("nmd,m->nd", self.pair_grad(y, z), w)

    def value_sum(self, y: np.ndarray, z: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Value of the expansion ``sum_c w_c K(y, z_c)`` at the rows of ``y``, shape ``(n,)``."""
        return self.pair_value(y, z) @ w


@dataclass(frozen=True)
class RadialKernel(Kernel):
    """Base class of a radial kernel ``K(u, v) = phi(|u - v|^2)`` with bandwidth ``sigma``.

    Subclasses define ``profile``, ``dprofile`` and ``d2profile`` (``phi`` and its
    derivatives with respect to ``s = |u - v|^2``), ``curvature`` and
    ``grad_bound``; the pairwise derivatives follow (module docstring).
    """

    sigma: float

    radial = True

    def __post_init__(self):
        object.__setattr__(self, "sigma", _param(self.sigma, "sigma"))

    # -- profile, to be defined by subclasses ---------------------------------------
    def profile(self, s):  # pragma: no cover - abstract
        raise NotImplementedError

    def dprofile(self, s):  # pragma: no cover - abstract
        raise NotImplementedError

    def d2profile(self, s):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def length_scale(self) -> float:
        """The bandwidth ``sigma`` (the smallest one of a multiscale kernel)."""
        return self.sigma

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

    def grad_scale(self, points: np.ndarray) -> float:
        return self.grad_bound

    def params(self) -> dict:
        return {"kind": self.name, "sigma": self.sigma}

    # -- pairwise evaluations -------------------------------------------------------
    def pair_value(self, y, z):
        return self.profile(sqdist(y, z))

    def pair_grad(self, y, z):
        return self._grad_r(y[:, None, :] - z[None, :, :])

    def pair_hessian(self, y, z):
        return self._hess_r(y[:, None, :] - z[None, :, :])

    def pair_mixed(self, y, z):
        # K depends on u - v only: d_v = -d_u.
        return -self.pair_hessian(y, z)

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


@dataclass(frozen=True)
class Gaussian(RadialKernel):
    """Gaussian kernel ``K(u, v) = exp(-|u - v|^2 / (2 sigma^2))``.

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
    """

    alpha: float = 1.0
    name = "rational_quadratic"

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "alpha", _param(self.alpha, "alpha"))

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


@dataclass(frozen=True)
class Multiscale(RadialKernel):
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
        for name, values in (("sigmas", sig), ("scale_weights", wts)):
            for value in values:
                _param(value, name)
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


@dataclass(frozen=True)
class NNGP(Kernel):
    """ReLU NNGP kernel: the infinite-width limit of a depth-``depth`` ReLU network.

    Weight variance 2, bias variance ``bias^2`` (theory section 10):
    ``S_0 = u.v / d + bias^2``,
    ``S_l = sqrt(a b) (sin t + (pi - t) cos t) / pi + bias^2`` with
    ``cos t = S_{l-1}(u, v) / sqrt(a b)``, ``a = S_{l-1}(u, u)``, ``b = S_{l-1}(v, v)``;
    ``K = S_depth``. Recursion and derivatives: :mod:`kernelgda.arccos`.

    Not radial and not translation invariant: ``mixed != -hessian`` (at ``u = v``
    the Hessian in ``u`` vanishes, the mixed derivative does not), so the
    isolated closed forms (theory section 5) do not apply, while the general
    linearization (section 4) does: the kernel is C^2 at ``u = v``. It has no
    bandwidth; ``S_0 = u.v / d`` sets the unit of the inputs, so
    ``length_scale = 1`` (give data at unit scale). With ``bias = 0`` it is not
    differentiable at the origin.

    Examples
    --------
    >>> k = NNGP(depth=2, bias=0.0)
    >>> bool(np.isclose(k([[1.0, 0.0]], [[1.0, 0.0]])[0, 0], 0.5))   # |u|^2 / d
    True
    >>> bool(np.allclose(k.hessian([[0.3, 0.4]], [[0.3, 0.4]]), 0.0))
    True
    """

    depth: int = 2
    bias: float = 0.0
    name = "nngp"

    def __post_init__(self):
        object.__setattr__(self, "depth", V.integer(self.depth, "depth", minimum=1))
        if self.depth > MAX_DEPTH:
            raise ValueError(f"depth must be <= {MAX_DEPTH}, got {self.depth}")
        bias = V.scalar(self.bias, "bias", nonnegative=True)
        object.__setattr__(self, "bias", 0.0 if bias == 0 else _param(bias, "bias"))

    @property
    def length_scale(self) -> float:
        return 1.0

    @property
    def grad_bound(self) -> float:
        raise ValueError("the NNGP kernel has no global gradient bound (|grad_u K(u, v)| grows "
                         "with |v|); use grad_scale(points)")

    def params(self) -> dict:
        return {"kind": self.name, "depth": self.depth, "bias": self.bias}

    def pair_value(self, y, z):
        self._check_scale(y, z)
        return nngp_value(y, z, self.depth, self.bias)

    def _check_scale(self, y, z):
        # S_0(u, u) = |u|^2 / d + bias^2 >= PARAM_MIN^2 keeps the recursion's products of
        # S_0 values (a b, a^2) normal; with bias = 0 it is 0 at the origin.
        if self.bias == 0:
            tiny = PARAM_MIN**2 * y.shape[1]
            if np.any((y * y).sum(1) < tiny) or np.any((z * z).sum(1) < tiny):
                raise ValueError(f"the NNGP kernel with bias = 0 needs every point at least {PARAM_MIN:g} "
                                 "from the origin (it is not differentiable at 0); move the points "
                                 "off 0 or use bias > 0")

    def _derivative(self, y, z, order):
        self._check_scale(y, z)
        return nngp_derivatives(y, z, self.depth, self.bias, order)

    def pair_grad(self, y, z):
        return self._derivative(y, z, "grad")

    def pair_hessian(self, y, z):
        return self._derivative(y, z, "hessian")

    def pair_mixed(self, y, z):
        return self._derivative(y, z, "mixed")


KERNELS = {
    "gaussian": Gaussian,
    "rational_quadratic": RationalQuadratic,
    "laplacian": Laplacian,
    "multiscale": Multiscale,
    "nngp": NNGP,
}


def make_kernel(kind: str = "gaussian", **params) -> Kernel:
    """Build a kernel from its registry name and parameters (``make_kernel("gaussian", sigma=1)``)."""
    V.choice(kind, "kernel kind", tuple(KERNELS))
    try:
        return KERNELS[kind](**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters for kernel {kind!r}: {exc}") from None
