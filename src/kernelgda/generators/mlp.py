"""A fully connected generator network ``y_j = MLP(theta, z_j)`` (theory section 12).

Layers of widths ``k -> h_1 -> ... -> h_L -> d``: ``a_0 = z``, ``a_l = phi(a_{l-1} W_l + b_l)``
for the hidden layers and a linear output ``y = a_L W_out + b_out``. ``theta`` is
``[vec(W_1), b_1, ..., vec(W_out), b_out]`` (each ``W`` of shape ``(fan_in, fan_out)``, C order).

Derivatives, all exact: :meth:`MLP.vjp` is back-propagation; :meth:`MLP.jacobian` back-propagates
the ``d`` output coordinates of every point at once (per-sample gradients); the contraction
``d/dtheta [J^T v]`` is the complex-step derivative of the back-propagation (exact to rounding,
:data:`kernelgda.generators.base.COMPLEX_STEP`), which is why the activations below are written
to accept complex arguments.
"""

from __future__ import annotations

import numpy as np

from .. import _validate as V
from ..resources import check_bytes, format_count
from ..threads import THREADS
from .base import Generator, initial_theta, latent_codes

__all__ = ["MLP", "ACTIVATIONS"]


def _flip(x):
    """``x`` with its real part made non-positive (``-x`` where ``Re x > 0``) and the mask."""
    pos = np.real(x) > 0
    return np.where(pos, -x, x), pos


def _softplus(x):
    # log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}), written so that it is analytic in each branch
    # (the branch is chosen by the real part) and never overflows.
    xs, pos = _flip(x)
    return np.where(pos, x, 0.0) + np.log1p(np.exp(xs))


def _sigmoid(x):
    xs, pos = _flip(x)
    e = np.exp(xs)
    return np.where(pos, 1.0 / (1.0 + e), e / (1.0 + e))


def _tanh_prime(x):
    t = np.tanh(x)
    return 1.0 - t * t


#: ``name -> (phi, phi')``.
ACTIVATIONS = {
    "tanh": (np.tanh, _tanh_prime),
    "softplus": (_softplus, _sigmoid),
    "relu": (lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(float)),
}


class MLP(Generator):
    """A fully connected generator network with one or more hidden layers.

    Parameters
    ----------
    z : (n, k) array
        Fixed latent codes (a vector: ``k = 1``).
    d : int
        Output dimension.
    hidden : tuple of int
        Widths of the hidden layers, e.g. ``(16,)`` or ``(32, 32)``.
    activation : {"tanh", "softplus", "relu"}
        Hidden-layer nonlinearity. ReLU networks simulate but are not twice differentiable:
        fixed points and the linearization refuse them with one line.
    seed : int, optional
        Draw every weight ``~ N(0, 1 / fan_in)`` and every bias ``= 0`` from this seed when
        ``theta`` is not given (default seed 0).
    theta : (P,) array, optional
        The parameters, laid out as in the module docstring.

    Examples
    --------
    >>> gen = MLP([[0.0], [1.0]], d=2, hidden=(3,), activation="tanh", seed=1)
    >>> gen.num_params, gen.points(gen.theta).shape, gen.jacobian(gen.theta).shape
    (14, (2, 2), (4, 14))
    """

    def __init__(self, z, d: int, hidden=(16,), activation: str = "tanh", seed=None, *, theta=None):
        self.z = latent_codes(z)
        self.n, self.k = self.z.shape
        self.d = V.integer(d, "d", minimum=1)
        if isinstance(hidden, int | np.integer) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if not isinstance(hidden, tuple | list) or not hidden:
            raise ValueError(f"hidden must be a non-empty tuple of layer widths, got {hidden!r}")
        self.hidden = tuple(V.integer(h, "hidden", minimum=1) for h in hidden)
        self.activation = V.choice(activation, "activation", tuple(ACTIVATIONS))
        self.smooth = self.activation != "relu"
        self._phi, self._dphi = ACTIVATIONS[self.activation]
        sizes = (self.k, *self.hidden, self.d)
        self._shapes = list(zip(sizes[:-1], sizes[1:], strict=True))
        self.num_params = sum(a * b + b for a, b in self._shapes)
        check_bytes(8 * self.num_params, "generator parameters",
                    detail=f"{format_count(self.num_params)} parameters",
                    hint="use narrower hidden layers")
        self.theta = initial_theta(self, theta, seed, self._draw)

    def _draw(self, rng):
        parts = []
        for fan_in, fan_out in self._shapes:
            parts.append(rng.standard_normal(fan_in * fan_out) / np.sqrt(fan_in))
            parts.append(np.zeros(fan_out))
        return np.concatenate(parts)

    def layers(self, theta):
        """The ``(W, b)`` of every layer, views into ``theta``."""
        out, at = [], 0
        for fan_in, fan_out in self._shapes:
            w = theta[at:at + fan_in * fan_out].reshape(fan_in, fan_out)
            at += fan_in * fan_out
            out.append((w, theta[at:at + fan_out]))
            at += fan_out
        return out

    def _forward(self, theta):
        """Inputs ``a_{l-1}`` of every layer, hidden pre-activations, and the output.

        The last real ``theta``'s pass is kept: a run asks for the points and then the
        vector-Jacobian product at the same parameters, and the pass is done once.
        """
        theta = np.asarray(theta)
        cache = self.__dict__.get("_cache")
        if cache is not None and theta.dtype == float and np.array_equal(cache[0], theta):
            return cache[1]
        with THREADS.one_blas_thread():  # small products: BLAS threads cost more than they save
            out = self._pass(theta)
        if theta.dtype == float:
            self._cache = (theta.copy(), out)
        return out

    def _pass(self, theta):
        layers = self.layers(theta)
        a, inputs, pres = self.z, [], []
        for w, b in layers[:-1]:
            inputs.append(a)
            pre = a @ w + b
            pres.append(pre)
            a = self._phi(pre)
        inputs.append(a)
        w, b = layers[-1]
        return layers, inputs, pres, a @ w + b

    def points(self, theta):
        return self._forward(theta)[3]

    def vjp(self, theta, v):
        layers, inputs, pres, _ = self._forward(theta)
        delta = np.asarray(v)
        grads = []
        with THREADS.one_blas_thread():
            for layer in range(len(layers) - 1, -1, -1):
                w, _ = layers[layer]
                grads.append(delta.sum(axis=0))
                grads.append((inputs[layer].T @ delta).ravel())
                if layer:
                    delta = (delta @ w.T) * self._dphi(pres[layer - 1])
        return np.concatenate(grads[::-1])

    def jacobian(self, theta):
        theta = self.check_theta(theta)
        check_bytes(8 * self.n * self.d * self.num_params, "generator Jacobian",
                    detail=f"{format_count(self.n * self.d)} x {format_count(self.num_params)} float64",
                    hint="use fewer points or a smaller network")
        layers, inputs, pres, _ = self._forward(theta)
        n, d = self.n, self.d
        delta = np.broadcast_to(np.eye(d), (n, d, d))  # delta[j, a, u]: d y_ja / d pre_u
        blocks = []
        for layer in range(len(layers) - 1, -1, -1):
            w, _ = layers[layer]
            blocks.append(delta.reshape(n * d, -1))
            blocks.append(np.einsum("jc,jau->jacu", inputs[layer], delta).reshape(n * d, -1))
            if layer:
                delta = (delta @ w.T) * self._dphi(pres[layer - 1])[:, None, :]
        return np.hstack(blocks[::-1])

    def contraction(self, theta, v):
        theta = self.check_theta(theta)
        check_bytes(8 * self.num_params ** 2, "generator contraction d/dtheta [J^T v]",
                    detail=f"{format_count(self.num_params)}^2 float64",
                    hint="use a smaller network for the linearization")
        return super().contraction(theta, v)
