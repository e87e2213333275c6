"""Kernels: values, gradients, Hessians and mixed second derivatives.

:class:`Kernel` is the interface the rest of the library uses: pairwise values
and derivatives in the first argument (``pair_value``, ``pair_grad``,
``pair_hessian``) and the mixed derivative ``pair_mixed = d_u d_v^T K``, which
theory section 4 needs separately from the Hessian. :class:`NNGP` (theory
section 10) is neither radial nor translation invariant; its recursion is in
:mod:`kernelgda.kernels.arccos`.

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

from dataclasses import dataclass

import numpy as np

from .. import _validate as V

__all__ = ["Kernel", "RadialKernel", "PARAM_MIN", "PARAM_MAX", "check_param", "check_pair", "sqdist"]

#: Range of bandwidths, ``alpha``, multiscale weights and a positive NNGP bias (module docstring).
PARAM_MIN, PARAM_MAX = 1e-50, 1e50
#: Values of one ``(n, block, d)`` block of :meth:`Kernel.pair_grad` in the generic kernel
#: sum :meth:`Kernel.grad_sum` (2 MiB of float64; a kernel's recursion keeps a few such
#: temporaries alive).
GRAD_BLOCK_ENTRIES = 1 << 18


def check_param(value, name: str) -> float:
    """A finite kernel parameter in ``[PARAM_MIN, PARAM_MAX]`` (module docstring)."""
    value = V.scalar(value, name, positive=True)
    if not PARAM_MIN <= value <= PARAM_MAX:
        raise ValueError(f"{name} must lie in [{PARAM_MIN:g}, {PARAM_MAX:g}] so that the kernel's "
                         f"derivatives are finite float64 numbers, got {value:g}")
    return value


def check_pair(u, v, name_u="u", name_v="v"):
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

    Examples
    --------
    >>> import kernelgda as kg
    >>> k = kg.Gaussian(sigma=1.0)              # every kernel of the library is a Kernel
    >>> isinstance(k, kg.Kernel), k.pair_grad(np.zeros((2, 3)), np.ones((4, 3))).shape
    (True, (2, 4, 3))
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
        return self.pair_value(*check_pair(u, v))

    def grad(self, u, v) -> np.ndarray:
        """``d/du K(u_a, v_b)``, shape ``(nu, nv, d)``."""
        return self.pair_grad(*check_pair(u, v))

    def hessian(self, u, v) -> np.ndarray:
        """``d^2/du^2 K(u_a, v_b)``, shape ``(nu, nv, d, d)``."""
        return self.pair_hessian(*check_pair(u, v))

    def mixed(self, u, v) -> np.ndarray:
        """``d/du d/dv^T K(u_a, v_b)``, shape ``(nu, nv, d, d)``."""
        return self.pair_mixed(*check_pair(u, v))

    # -- kernel expansions (trusted inputs) ----------------------------------------------
    def grad_sum(self, y: np.ndarray, z: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Gradient of the expansion ``f = sum_c w_c K(., z_c)`` at the rows of ``y``, ``(n, d)``.

        The generic path of any kernel: :meth:`pair_grad` on blocks of centres of about
        :data:`GRAD_BLOCK_ENTRIES` ``(n, block, d)`` values, so memory stays bounded however
        many centres there are; the blocks are summed in order.
        """
        n, d = y.shape
        out = np.zeros((n, d))
        step = max(1, GRAD_BLOCK_ENTRIES // max(1, n * d))
        for a in range(0, z.shape[0], step):
            out += np.einsum("nmd,m->nd", self.pair_grad(y, z[a:a + step]), w[a:a + step])
        return out

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
        object.__setattr__(self, "sigma", check_param(self.sigma, "sigma"))

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
