"""The affine generator ``y_j = W^T z_j + b`` (theory section 12).

Its Jacobian does not depend on ``theta``: ``dy_ja / dW_ca = z_jc`` and ``dy_ja / db_a = 1``, so
``J = [Z (x) I_d, 1 (x) I_d]``, the tangent kernel is exactly ``Theta = (Z Z^T + 1 1^T) (x) I_d``
(``Z Z^T`` without the bias) and the contraction ``d/dtheta [J^T v]`` is zero: a GDA run is the
point model with the generator step premultiplied by ``Theta``, to rounding.
"""

from __future__ import annotations

import numpy as np

from .. import _validate as V
from .base import Generator, initial_theta, latent_codes

__all__ = ["Affine"]


class Affine(Generator):
    """Affine generator ``y_j = W^T z_j + b``.

    Parameters
    ----------
    z : (n, k) array
        Fixed latent codes (a vector: ``k = 1``).
    d : int
        Output dimension.
    bias : bool
        Whether ``b`` is a parameter (otherwise ``b = 0``).
    theta : (P,) array, optional
        Parameters ``[vec(W), b]`` with ``W`` of shape ``(k, d)`` in C order; ``P = k d``
        (``+ d`` with the bias).
    seed : int, optional
        Draw ``W ~ N(0, 1/k)`` and ``b = 0`` from this seed when ``theta`` is not given
        (default seed 0).

    Examples
    --------
    >>> gen = Affine([[1.0], [2.0]], d=1, theta=[0.5, 0.1])
    >>> gen.points(gen.theta).ravel().tolist(), gen.num_params
    ([0.6, 1.1], 2)
    >>> gen.tangent_kernel().tolist()          # (Z Z^T + 1 1^T) (x) I_1
    [[2.0, 3.0], [3.0, 5.0]]
    """

    def __init__(self, z, d: int, bias: bool = True, *, theta=None, seed=None):
        self.z = latent_codes(z)
        self.n, self.k = self.z.shape
        self.d = V.integer(d, "d", minimum=1)
        if not isinstance(bias, bool | np.bool_):
            raise ValueError(f"bias must be True or False, got {bias!r}")
        self.bias = bool(bias)
        self.num_params = self.k * self.d + (self.d if self.bias else 0)
        self.theta = initial_theta(self, theta, seed, self._draw)

    def _draw(self, rng):
        w = rng.standard_normal((self.k, self.d)) / np.sqrt(self.k)
        return np.concatenate([w.ravel(), np.zeros(self.d if self.bias else 0)])

    def _split(self, theta):
        w = theta[:self.k * self.d].reshape(self.k, self.d)
        return w, (theta[self.k * self.d:] if self.bias else 0.0)

    def points(self, theta):
        w, b = self._split(np.asarray(theta))
        return self.z @ w + b

    def vjp(self, theta, v):
        v = np.asarray(v)
        gw = (self.z.T @ v).ravel()
        return np.concatenate([gw, v.sum(axis=0)]) if self.bias else gw

    def jacobian(self, theta):
        self.check_theta(theta)
        eye = np.eye(self.d)
        parts = [np.kron(self.z, eye)]
        if self.bias:
            parts.append(np.kron(np.ones((self.n, 1)), eye))
        return np.hstack(parts)

    def contraction(self, theta, v):
        self.check_theta(theta)
        self.check_v(v)
        return np.zeros((self.num_params, self.num_params))
