"""The ReLU NNGP kernel (theory section 10): neither radial nor translation invariant.

The arc-cosine layer recursion and its derivatives live in :mod:`kernelgda.kernels.arccos`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as V
from .arccos import nngp_derivatives, nngp_grad_norms, nngp_grad_sum, nngp_value
from .base import PARAM_MIN, Kernel, check_param

__all__ = ["NNGP", "MAX_DEPTH"]

#: Deepest NNGP recursion accepted. Each layer is a pass over all pairs in every kernel
#: evaluation, so the cost of a fixed-point solve grows with the depth: at depth 100
#: ``kernelgda analyze`` of a two-point scenario takes seconds, at 1000 minutes. Deeper
#: kernels say little more: the correlation of orthogonal inputs is 1 - 3.6e-3 at depth 100.
MAX_DEPTH = 100
#: Pairs in one block of :meth:`NNGP.grad_sum` (a few ``(n, block)`` float64 arrays of 2 MiB).
SUM_BLOCK_ENTRIES = 1 << 18


@dataclass(frozen=True)
class NNGP(Kernel):
    """ReLU NNGP kernel: the infinite-width limit of a depth-``depth`` ReLU network.

    Weight variance 2, bias variance ``bias^2`` (theory section 10):
    ``S_0 = u.v / d + bias^2``,
    ``S_l = sqrt(a b) (sin t + (pi - t) cos t) / pi + bias^2`` with
    ``cos t = S_{l-1}(u, v) / sqrt(a b)``, ``a = S_{l-1}(u, u)``, ``b = S_{l-1}(v, v)``;
    ``K = S_depth``. Recursion and derivatives: :mod:`kernelgda.kernels.arccos`.

    Not radial and not translation invariant: ``mixed != -hessian`` (at ``u = v``
    the Hessian in ``u`` vanishes, the mixed derivative does not), so the
    isolated closed forms (theory section 5) do not apply, while the general
    linearization (section 4) does: the kernel is C^2 at ``u = v``. It has no
    bandwidth; ``S_0 = u.v / d`` sets the unit of the inputs, so
    ``length_scale = 1`` (give data at unit scale). With ``bias = 0`` it is not
    differentiable at the origin.

    Parameters
    ----------
    depth : int >= 1
        Number of hidden ReLU layers.
    bias : float
        Bias standard deviation (its variance ``bias^2`` enters every layer).

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
        object.__setattr__(self, "bias", 0.0 if bias == 0 else check_param(bias, "bias"))

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

    def grad_scale(self, points):
        """The largest ``|grad_u K(a, b)|`` over pairs of ``points`` (no global bound exists),
        from the span form ``A u + B v`` of the gradient."""
        points = np.ascontiguousarray(points)
        self._check_scale(points, points)
        return float(nngp_grad_norms(points, points, self.depth, self.bias).max())

    def grad_sum(self, y, z, w):
        """Gradient of ``f = sum_c w_c K(., z_c)`` at the rows of ``y``: every pair's gradient
        is ``A u + B v``, so ``(n, M)`` coefficient arrays and one matrix product suffice
        (:func:`~kernelgda.kernels.arccos.nngp_grad_sum`), in blocks of centres."""
        self._check_scale(y, z)
        # contiguous rows: a strided operand (the history's augmented rows) makes numpy's
        # matrix product skip BLAS, ~100x slower
        y, z = np.ascontiguousarray(y), np.ascontiguousarray(z)
        out = np.zeros(y.shape)
        step = max(1, SUM_BLOCK_ENTRIES // max(1, y.shape[0]))
        for a in range(0, z.shape[0], step):
            out += nngp_grad_sum(y, z[a:a + step], w[a:a + step], self.depth, self.bias)
        return out
