"""The empirical tangent kernel of a finite two-layer network at its initialization (theory section 13).

For ``f(u) = (1/sqrt(h)) sum_r a_r phi(w_r . u + b_r)`` with parameters ``theta = (a, W, b)``::

    Theta_h(u, v) = grad_theta f(u) . grad_theta f(v)
                  = (1/h) sum_r [ phi(z_r(u)) phi(z_r(v)) + a_r^2 phi'(z_r(u)) phi'(z_r(v)) (u . v + 1) ]

with ``z_r(u) = w_r . u + b_r``. Its derivatives in ``u`` (and the mixed one) are sums over
neurons of the same kind, written below with ``P_k = phi^(k)(z(u))``, ``Q_k = phi^(k)(z(v))``::

    grad_u      = sum_r [P_1 Q_0 w + a^2 P_2 Q_1 D w + a^2 P_1 Q_1 v] / h
    hess_u      = sum_r [P_2 Q_0 w w^T + a^2 P_3 Q_1 D w w^T + a^2 P_2 Q_1 (w v^T + v w^T)] / h
    d_u d_v^T   = sum_r [P_1 Q_1 w w^T + a^2 P_2 Q_2 D w w^T + a^2 P_2 Q_1 w u^T
                         + a^2 P_1 Q_2 v w^T + a^2 P_1 Q_1 I] / h

each a few ``(n, h) @ (h, m)`` matrix products. The initialization is antisymmetric: the
first ``h / 2`` neurons are drawn, the second half copies ``w_r, b_r`` and negates ``a_r``,
so ``f = 0`` at initialization and ``Theta_h`` averages ``h / 2`` independent neurons.
:func:`initial_parameters` is the one draw shared with
:class:`kernelgda.discriminator.network.NetworkModel`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from .. import _validate as V
from .base import Kernel
from .ntk import check_activation, check_scales

__all__ = ["EmpiricalNTK", "initial_parameters", "activation_derivatives", "tangent_gram", "rows_dot",
           "check_width",
           "MAX_WIDTH"]

#: Widest network accepted (``h (d + 2)`` parameters; the test suite goes to 2^16).
MAX_WIDTH = 1 << 24
_SQRT_PI = np.sqrt(np.pi)


def checked_network(spec) -> dict:
    """The checked ``width``, ``activation``, ``sigma_w``, ``sigma_b`` and ``seed`` of a two-layer network
    (``spec`` has those attributes: :class:`EmpiricalNTK`, :class:`kernelgda.NetworkDiscriminator`)."""
    width, activation = check_width(spec.width), check_activation(spec.activation)
    sigma_w, sigma_b = check_scales(spec.sigma_w, spec.sigma_b)
    return {"width": width, "activation": activation, "sigma_w": sigma_w, "sigma_b": sigma_b,
            "seed": V.integer(spec.seed, "seed", minimum=0)}


def check_width(width) -> int:
    """An even width ``2 <= h <= MAX_WIDTH`` (the antisymmetric initialization pairs neurons)."""
    if isinstance(width, bool) or not isinstance(width, Integral):
        raise ValueError(f"width must be an even integer >= 2, got {width!r}")
    width = int(width)
    if width < 2 or width % 2 or width > MAX_WIDTH:
        raise ValueError(f"width must be an even integer in [2, {MAX_WIDTH}] (neurons come in "
                         f"antisymmetric pairs), got {width}")
    return width


def activation_derivatives(activation: str, z: np.ndarray, order: int, *,
                           skip_value: bool = False) -> list:
    """``[phi(z), phi'(z), ..., phi^(order)(z)]`` for ``"erf"`` (any order up to 3) or
    ``"relu"`` (its derivatives of order >= 2 are 0 away from the kink); ``skip_value`` puts
    ``None`` in place of ``phi(z)`` (an erf costs several times an exp)."""
    if activation == "relu":
        out = [None if skip_value else np.maximum(z, 0.0), (z > 0).astype(float)]
        return (out + [np.zeros_like(z)] * order)[:order + 1]
    from scipy.special import erf  # scipy is a dependency; imported where it is used
    if order == 0:
        return [erf(z)]
    d1 = (2.0 / _SQRT_PI) * np.exp(-z * z)
    out = [None if skip_value else erf(z), d1]
    if order >= 2:
        out.append(-2.0 * z * d1)
    if order >= 3:
        out.append((4.0 * z * z - 2.0) * d1)
    return out[:order + 1]


#: Below this many output entries ``left @ right.T`` is an einsum: a threaded BLAS product of a
#: few rows over ``h`` neurons costs far more than it saves on shared cores (measured 1.5 ms
#: against 9 us for ``1 x 16384 x 1`` with two busy cores).
SMALL_PRODUCT = 1024


def rows_dot(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``left @ right.T`` for ``(n, h)`` and ``(m, h)`` arrays (einsum when ``n m`` is small)."""
    if left.shape[0] * right.shape[0] <= SMALL_PRODUCT:
        return np.einsum("nr,mr->nm", left, right)
    return left @ right.T


def tangent_gram(a, W, b, activation: str, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``Theta(y_i, z_j) = grad_theta f(y_i) . grad_theta f(z_j)`` for the parameters ``(a, W, b)``
    (trusted arrays; the module docstring's sum over neurons, two matrix products).

    Examples
    --------
    >>> a, W, b = initial_parameters(8, 1, 1.0, 0.0, seed=0)
    >>> bool(np.allclose(tangent_gram(a, W, b, "erf", np.ones((1, 1)), np.ones((1, 1))),
    ...                  EmpiricalNTK(8, "erf", 1.0, 0.0, 0)([[1.0]], [[1.0]])))
    True
    """
    P = activation_derivatives(activation, y @ W.T + b, 1)
    Q = activation_derivatives(activation, z @ W.T + b, 1)
    return (rows_dot(P[0], Q[0]) + rows_dot(P[1] * (a * a), Q[1]) * (y @ z.T + 1.0)) / a.shape[0]


@functools.lru_cache(maxsize=8)
def _draw(width, d, sigma_w, sigma_b, seed):
    rng = np.random.default_rng(seed)
    half = width // 2
    w = rng.standard_normal((half, d)) * sigma_w
    b = rng.standard_normal(half) * sigma_b
    a = rng.standard_normal(half)
    arrays = (np.concatenate([a, -a]), np.concatenate([w, w]), np.concatenate([b, b]))
    for arr in arrays:
        arr.setflags(write=False)
    return arrays


def initial_parameters(width: int, d: int, sigma_w: float, sigma_b: float, seed: int):
    """The antisymmetric initialization ``(a (h,), W (h, d), b (h,))`` (read-only arrays).

    Examples
    --------
    >>> a, W, b = initial_parameters(4, 2, 1.0, 0.5, seed=0)
    >>> bool(np.all(a[:2] == -a[2:])), bool(np.all(W[:2] == W[2:])), W.shape
    (True, True, (4, 2))
    """
    return _draw(check_width(width), V.integer(d, "d", minimum=1), float(sigma_w), float(sigma_b),
                 V.integer(seed, "seed", minimum=0))


@dataclass(frozen=True)
class EmpiricalNTK(Kernel):
    """Tangent kernel ``Theta_h`` of a width-``h`` two-layer network at its initialization.

    The network and its parameters are those of
    :class:`kernelgda.NetworkDiscriminator` with the same arguments (the draw depends on the
    dimension ``d`` of the points it is evaluated at), so ``kg.linearize`` with this kernel
    is the linearization of the network's own GDA (theory section 13). Formulas in the
    module docstring; ``activation="relu"`` has value and gradient only (``smooth = False``).

    Parameters
    ----------
    width : int
        Number of hidden neurons ``h`` (even: they come in antisymmetric pairs).
    activation : {"erf", "relu"}
    sigma_w, sigma_b : float
        Standard deviations of the input weights and biases.
    seed : int
        Seed of the network's initialization (the same as the discriminator's).

    Examples
    --------
    >>> k = EmpiricalNTK(width=64, activation="erf", sigma_w=1.0, sigma_b=0.5, seed=0)
    >>> K = k([[0.1], [0.5]], [[0.1], [0.5]])
    >>> bool(np.allclose(K, K.T)), bool(np.all(np.linalg.eigvalsh(K) > 0))
    (True, True)
    """

    width: int = 1024
    activation: str = "erf"
    sigma_w: float = 1.0
    sigma_b: float = 0.0
    seed: int = 0
    name = "empirical_ntk"

    def __post_init__(self):
        for name, value in checked_network(self).items():
            object.__setattr__(self, name, value)

    @property
    def smooth(self) -> bool:
        return self.activation == "erf"

    @property
    def length_scale(self) -> float:
        return 1.0 / self.sigma_w

    def params(self) -> dict:
        return {"kind": self.name, "width": self.width, "activation": self.activation,
                "sigma_w": self.sigma_w, "sigma_b": self.sigma_b, "seed": self.seed}

    def parameters(self, d: int):
        """The network's initial ``(a, W, b)`` in dimension ``d`` (:func:`initial_parameters`)."""
        return initial_parameters(self.width, d, self.sigma_w, self.sigma_b, self.seed)

    def _derivs(self, y, order):
        a, W, b = self.parameters(y.shape[1])
        return a, W, activation_derivatives(self.activation, y @ W.T + b, order)

    def _require_smooth(self, what):
        if not self.smooth:
            raise ValueError(f"the ReLU tangent kernel has no {what} (a kink at every neuron's "
                             "hyperplane); use activation='erf'")

    def pair_value(self, y, z):
        return tangent_gram(*self.parameters(y.shape[1]), self.activation, y, z)

    def _weighted(self, left, right, W, k, l=None):
        """``sum_r left_r W_rk (W_rl) right_r`` as ``(n, m)``."""
        col = W[:, k] if l is None else W[:, k] * W[:, l]
        return rows_dot(left * col, right)

    def pair_grad(self, y, z):
        a, W, P = self._derivs(y, 2)
        _, _, Q = self._derivs(z, 1)
        a2, D, h = a * a, y @ z.T + 1.0, self.width
        E = rows_dot(P[1] * a2, Q[1]) / h
        out = np.empty(y.shape[:1] + z.shape[:1] + y.shape[1:])
        for k in range(y.shape[1]):
            out[..., k] = (self._weighted(P[1], Q[0], W, k)
                           + D * self._weighted(P[2] * a2, Q[1], W, k)) / h
        out += E[..., None] * z[None, :, :]
        return out

    def pair_hessian(self, y, z):
        self._require_smooth("Hessian")
        a, W, P = self._derivs(y, 3)
        _, _, Q = self._derivs(z, 1)
        a2, D, h, d = a * a, y @ z.T + 1.0, self.width, y.shape[1]
        Gk = np.stack([self._weighted(P[2] * a2, Q[1], W, k) for k in range(d)], -1) / h
        out = np.empty(y.shape[:1] + z.shape[:1] + (d, d))
        for k in range(d):
            for l in range(k, d):
                out[..., k, l] = (self._weighted(P[2], Q[0], W, k, l)
                                  + D * self._weighted(P[3] * a2, Q[1], W, k, l)) / h
                out[..., l, k] = out[..., k, l]
        v = z[None, :, :]
        return out + Gk[..., :, None] * v[..., None, :] + v[..., :, None] * Gk[..., None, :]

    def pair_mixed(self, y, z):
        self._require_smooth("mixed second derivative")
        a, W, P = self._derivs(y, 2)
        _, _, Q = self._derivs(z, 2)
        a2, D, h, d = a * a, y @ z.T + 1.0, self.width, y.shape[1]
        Gu = np.stack([self._weighted(P[2] * a2, Q[1], W, k) for k in range(d)], -1) / h
        Gv = np.stack([self._weighted(Q[2] * a2, P[1], W, k) for k in range(d)], -1).swapaxes(0, 1) / h
        E = rows_dot(P[1] * a2, Q[1]) / h
        out = np.empty(y.shape[:1] + z.shape[:1] + (d, d))
        for k in range(d):
            for l in range(k, d):
                out[..., k, l] = (self._weighted(P[1], Q[1], W, k, l)
                                  + D * self._weighted(P[2] * a2, Q[2], W, k, l)) / h
                out[..., l, k] = out[..., k, l]
        u, v = y[:, None, :], z[None, :, :]
        out += Gu[..., :, None] * u[..., None, :] + v[..., :, None] * Gv[..., None, :]
        out += E[..., None, None] * np.eye(d)
        return out
