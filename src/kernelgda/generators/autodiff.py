"""A generator written by the user in JAX (the optional extra ``kernelgda[jax]``).

Why JAX: it computes in float64 on the CPU (``jax_enable_x64``), and its transformations give
exactly the three derivatives a generator needs without hand-written code: ``jax.vjp`` for the
run's parameter step, ``jax.jacfwd`` for the Jacobian ``J`` and ``jax.hessian`` of
``theta -> <v, G(theta, Z)>`` for the contraction ``d/dtheta [J^T v]``; ``jax.vmap`` maps a
per-code function over the latent codes. PyTorch would need float64 set globally and has no
``vmap``-ed forward-mode Jacobian as convenient. JAX is imported only when an adapter is built,
so ``import kernelgda`` never loads it.
"""

from __future__ import annotations

import numpy as np

from .base import Generator, latent_codes

__all__ = ["JaxGenerator"]


def _jax():
    try:
        import jax
    except ImportError:  # the optional extra is missing
        raise ValueError("JaxGenerator needs JAX: pip install 'kernelgda[jax]'") from None
    jax.config.update("jax_enable_x64", True)  # float64, as everywhere in kernelgda
    return jax


class JaxGenerator(Generator):
    """Adapter for a generator ``fn(theta, z_j) -> y_j`` written with ``jax.numpy``.

    Parameters
    ----------
    fn : callable
        ``fn(theta, z)`` with ``theta`` a flat ``(P,)`` array and ``z`` one latent code
        ``(k,)``, returning one point ``(d,)``; written with ``jax.numpy`` so that JAX can
        differentiate it twice.
    z : (n, k) array
        Fixed latent codes.
    theta : (P,) array
        Initial parameters.
    smooth : bool
        Whether ``fn`` is twice differentiable in ``theta`` (say ``False`` for ReLU).

    Notes
    -----
    Building an adapter turns on JAX's ``jax_enable_x64`` (a process-wide JAX setting): the
    library computes in float64 throughout.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> gen = JaxGenerator(lambda th, z: jnp.tanh(th[:2] * z[0]) + th[2:], [[0.5], [1.0]],
    ...                    theta=[1.0, 2.0, 0.0, 0.0])
    >>> gen.points(gen.theta).shape, gen.jacobian(gen.theta).shape
    ((2, 2), (4, 4))
    """

    def __init__(self, fn, z, *, theta, smooth: bool = True):
        if not callable(fn):
            raise ValueError(f"fn must be a function fn(theta, z) -> y, got {fn!r}")
        jax = _jax()
        self.z = latent_codes(z)
        self.n = self.z.shape[0]
        theta = np.asarray(theta, dtype=float)
        if theta.ndim != 1 or theta.size == 0 or not np.all(np.isfinite(theta)):
            raise ValueError(f"theta must be a non-empty finite vector, got shape {theta.shape}")
        self.num_params = theta.size
        self.theta = theta.copy()
        self.smooth = bool(smooth)
        zj = jax.numpy.asarray(self.z)
        batched = jax.vmap(fn, in_axes=(None, 0))
        self._points = jax.jit(lambda th: batched(th, zj))
        try:
            out = np.asarray(self._points(self.theta))
        except Exception as exc:  # the user's function does not evaluate: say so in one line
            raise ValueError(f"fn(theta, z) failed on the given theta and z: {exc}") from None
        if out.ndim != 2 or out.shape[0] != self.n:
            raise ValueError(f"fn(theta, z) must return one point (d,) per code; got shape {out.shape[1:]}")
        self.d = out.shape[1]

        def vjp(th, v):
            return jax.vjp(self._points, th)[1](v)[0]

        self._vjp = jax.jit(vjp)
        self._jac = jax.jit(jax.jacfwd(self._points))
        self._hess = jax.jit(jax.hessian(lambda th, v: jax.numpy.vdot(v, self._points(th))))

    def points(self, theta):
        return np.asarray(self._points(np.asarray(theta, dtype=float)))

    def vjp(self, theta, v):
        return np.asarray(self._vjp(np.asarray(theta, dtype=float), np.asarray(v, dtype=float)))

    def jacobian(self, theta):
        theta = self.check_theta(theta)
        return np.asarray(self._jac(theta)).reshape(self.n * self.d, self.num_params)

    def contraction(self, theta, v):
        theta = self.check_theta(theta)
        v = self.check_v(v)
        if not self.smooth:
            raise ValueError("the contraction d/dtheta [J^T v] needs a twice-differentiable generator "
                             "(smooth=False was given)")
        return np.asarray(self._hess(theta, v))
