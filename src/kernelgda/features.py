"""Random-feature discriminators (theory section 2, "Random features").

A shift-invariant kernel is an expectation over random frequencies (Bochner):
``K(u, v) = E[ 2 cos(omega.u + b) cos(omega.v + b) ]`` with ``b ~ U[0, 2 pi)`` and
``omega`` drawn from the kernel's spectral measure. With ``D`` draws,

    phi(u) = a cos(Omega u + b),     a = sqrt(2 s / D),     K(u, v) ~ phi(u).phi(v)

(``s = K(u, u)``), and the discriminator ``f = w.phi`` follows

    w <- (1 - eta_d lam) w + eta_d ( Phi(X)^T p - Phi(Y)^T q )                       (D-RF)
    grad f(y) = -Omega^T ( a w * sin(Omega y + b) )

so a step costs ``O(D (m + n) d)`` and keeps no history. The kernel values and
gradients are Monte Carlo averages over the ``D`` frequencies, so the dynamics
converge to the exact ones with error ``O(1 / sqrt(D))``.

Spectral measures
-----------------
- Gaussian ``exp(-|r|^2 / (2 sigma^2))``: ``omega ~ N(0, I / sigma^2)``.
- Rational quadratic ``(1 + |r|^2 / (2 alpha sigma^2))^(-alpha)``: a gamma scale
  mixture of Gaussians, ``E_tau[exp(-tau |r|^2 / 2)]`` with
  ``tau ~ Gamma(shape alpha, rate alpha sigma^2)``; draw ``tau`` per feature,
  then ``omega ~ N(0, tau I)``.
- Multiscale ``sum_i c_i exp(-|r|^2 / (2 sigma_i^2))``: pick the scale ``i`` with
  probability ``c_i / sum c``, then ``omega ~ N(0, I / sigma_i^2)``; ``s = sum c``.

The Laplacian kernel has a Cauchy spectral measure, whose frequencies have
infinite variance: the random-feature gradient would not converge, so it is
refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from . import _validate as V
from .discriminator.interface import Discriminator, DiscriminatorSpec
from .kernels import Gaussian, Kernel, Multiscale, RationalQuadratic
from .resources import check_bytes, format_count, points_bytes
from .threads import THREADS

__all__ = ["RandomFeatures", "FeatureDiscriminator"]


def _gaussian(kernel, d, num, rng):
    return rng.standard_normal((num, d)) / kernel.sigma, 1.0


def _rational_quadratic(kernel, d, num, rng):
    tau = rng.gamma(shape=kernel.alpha, scale=1.0 / (kernel.alpha * kernel.sigma**2), size=num)
    return rng.standard_normal((num, d)) * np.sqrt(tau)[:, None], 1.0


def _multiscale(kernel, d, num, rng):
    c = np.asarray(kernel.scale_weights)
    which = rng.choice(c.size, size=num, p=c / c.sum())
    sig = np.asarray(kernel.sigmas)[which]
    return rng.standard_normal((num, d)) / sig[:, None], float(c.sum())


#: Kernels with a random-feature map: sampler ``(kernel, d, D, rng) -> (Omega (D, d), K(u, u))``.
SAMPLERS = {Gaussian: _gaussian, RationalQuadratic: _rational_quadratic, Multiscale: _multiscale}


@dataclass(frozen=True)
class RandomFeatures(DiscriminatorSpec):
    """Random Fourier feature discriminator, for ``simulate(..., discriminator=...)``.

    Parameters
    ----------
    num_features : int
        Number of features ``D >= 1``.
    seed : int
        Seed of the frequencies and phases (the same seed gives the same features).

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=0.5)
    >>> traj = kg.simulate(gan, kg.GDA(0.1, 0.1), [[0.3]], 1.0, num_steps=300,
    ...                    discriminator=kg.RandomFeatures(num_features=4096, seed=0))
    >>> bool(abs(traj.y[-1, 0, 0]) < 0.1)
    True
    """

    num_features: int
    seed: int = 0

    def __post_init__(self):
        num = self.num_features
        if isinstance(num, bool) or not isinstance(num, Integral):
            raise ValueError(f"num_features must be an integer >= 1, got {num!r}")
        if num < 1:
            raise ValueError(f"num_features must be >= 1, got {num}")
        object.__setattr__(self, "num_features", int(num))
        seed = self.seed
        if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        object.__setattr__(self, "seed", int(seed))

    def sample(self, kernel: Kernel, d: int, *, max_memory=None):
        """Frequencies ``Omega (D, d)``, phases ``b (D,)`` and amplitude ``a`` for ``kernel``.

        The discriminator built on true points ``X`` uses the features
        ``a cos(Omega (u - mean(X)) + b)`` (measuring from the mean keeps the phases
        small; the shift is absorbed by the uniform phases). Raises ``ValueError``
        (naming ``kernel``) for a kernel without a random-feature map, and for features
        over ``max_memory`` (:func:`kernelgda.resources.check_bytes`) before drawing them.
        """
        sampler = SAMPLERS.get(type(kernel))
        if sampler is None:
            names = ", ".join(k.name for k in SAMPLERS)
            raise ValueError(f"kernel {kernel.name!r} has no random-feature map; "
                             f"discriminator=RandomFeatures(...) needs one of: {names}")
        d = V.integer(d, "d", minimum=1)
        check_bytes(points_bytes(self.num_features, d + 2), "random features", limit=max_memory,
                    detail=f"{format_count(self.num_features)} features x ({d} frequencies + phase + "
                           "weight) float64", hint="use fewer features")
        rng = np.random.default_rng(self.seed)
        omega, diag = sampler(kernel, d, self.num_features, rng)
        phase = rng.uniform(0.0, 2.0 * math.pi, self.num_features)
        return omega, phase, math.sqrt(2.0 * diag / self.num_features)

    def build(self, kernel: Kernel, x: np.ndarray, p: np.ndarray,
              num_funcs: int | None = None, *, max_memory=None) -> FeatureDiscriminator:
        """A discriminator ``f = 0`` over the true points ``x (m, d)`` with weights ``p``
        (``num_funcs`` functions sharing the features for optimistic and momentum GDA);
        ``max_memory`` as in :meth:`sample`."""
        omega, phase, amp = self.sample(kernel, x.shape[1], max_memory=max_memory)
        return FeatureDiscriminator(omega, phase, amp, x, p, num_funcs)

    def setup(self, gan, gda, n, num_funcs=None, *, max_memory=None) -> FeatureDiscriminator:
        """:meth:`build` for ``gan``'s kernel and true points (every rule runs on features)."""
        return self.build(gan.kernel, gan.x_true, gan.p_true, num_funcs, max_memory=max_memory)


#: Entries of the phase matrix ``n x D`` below which a step runs on one thread.
PARALLEL_MIN_ENTRIES = 65536


class FeatureDiscriminator(Discriminator):
    """The random-feature discriminator ``f = w.phi`` (module docstring, (D-RF)).

    Same interface as :class:`~kernelgda.discriminator.Expansion` (``decay``,
    ``add_true``, ``add_slice``, ``grad``, ``value``, ``bound``, ``num_slices``),
    so :func:`~kernelgda.dynamics.simulate` drives both. The features of the last
    configuration seen are cached, so a step that adds ``Y`` and then evaluates
    ``grad f(Y)`` (or the other way round) computes ``Omega Y`` once.

    Parameters
    ----------
    omega : (D, d) array
    phase : (D,) array
    amp : float
        Feature amplitude ``a``.
    x, p : (m, d), (m,)
        True points and weights.
    """

    bound = 0.0
    num_slices = 0

    def __init__(self, omega, phase, amp, x, p, num_funcs: int | None = None):
        # Coordinates from the mean of the true points keep the phases small; the features
        # are a cos(Omega (u - origin) + b), the same random-feature map with shifted phases.
        self.origin = x.mean(axis=0)
        self.omega = omega
        self.phase = phase
        self.amp = amp
        # One weight vector per function: (D,) for GDA, (D, F) for the two-function rules
        # (optimistic, momentum; theory section 8), mixed by ``mix``.
        self.w = np.zeros(omega.shape[0] if num_funcs is None else (omega.shape[0], num_funcs))
        self.true_features = self.amp * (p @ np.cos(self._theta(x)))  # Phi(X)^T p
        self._key = None
        self._cos = None
        self._sin = None

    @property
    def nbytes(self) -> int:
        """Bytes held by the features (frequencies, weights and the cached cos and sin)."""
        held = [self.omega, self.phase, self.w, self.true_features, self._cos, self._sin]
        return sum(a.nbytes for a in held if a is not None)

    def _theta(self, y):
        theta = np.dot(y - self.origin, self.omega.T)
        theta += self.phase
        return theta

    def _parallel(self, rows: int) -> bool:
        return rows > 1 and rows * self.omega.shape[0] >= PARALLEL_MIN_ENTRIES

    def _features(self, y):
        """``cos`` and ``sin`` of ``Omega (y - origin) + b``, cached for the last ``y`` seen.

        Row blocks run on all cores: NumPy's float64 ``cos`` and ``sin`` are scalar library
        calls (about 14 ns each here) and a threaded BLAS product with ``d = 2`` inner terms
        can be slower than a single-threaded one.
        """
        if self._key is None or self._key.shape != y.shape or not np.array_equal(self._key, y):
            cos = np.empty((y.shape[0], self.omega.shape[0]))
            sin = np.empty_like(cos)

            def part(a, b):
                theta = self._theta(y[a:b])
                np.cos(theta, out=cos[a:b])
                np.sin(theta, out=sin[a:b])

            THREADS.map_rows(part, y.shape[0], self._parallel(y.shape[0]))
            self._cos, self._sin, self._key = cos, sin, np.array(y, copy=True)
        return self._cos, self._sin

    def decay(self, factor: float) -> None:
        """``w <- factor w``."""
        if factor != 1.0:
            self.w *= factor

    def add_true(self, amount) -> None:
        """``w <- w + amount Phi(X)^T p`` (``amount`` of shape ``(F,)`` for several functions)."""
        self.w += np.multiply.outer(self.true_features, amount) if self.w.ndim == 2 \
            else amount * self.true_features

    def add_slice(self, y: np.ndarray, coef: np.ndarray) -> None:
        """``w <- w + Phi(y)^T coef`` (``coef`` of shape ``(n,)``, or ``(n, F)``)."""
        cos, _ = self._features(y)
        parts = THREADS.map_rows(lambda a, b: np.dot(coef[a:b].T, cos[a:b]).T, y.shape[0],
                                  self._parallel(y.shape[0]))
        self.w += self.amp * sum(parts[1:], parts[0])

    def mix(self, t: np.ndarray) -> None:
        """``f_i <- sum_j t_ij f_j`` for the functions of a two-function rule (``w <- w T^T``)."""
        self.w = self.w @ np.asarray(t).T

    def field_grad(self, y: np.ndarray, z: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Gradient at ``y`` of the field term ``Phi(X)^T p - Phi(z)^T q`` in feature space."""
        v = self.true_features - self.amp * (q @ np.cos(self._theta(z)))
        return np.dot(np.sin(self._theta(y)), (-self.amp * v)[:, None] * self.omega)

    def grad(self, y: np.ndarray, combo=None) -> np.ndarray:
        """``grad f(y) = -Omega^T (a w * sin(Omega y + b))`` at the rows of ``y``
        (of ``sum_i combo[i] f_i`` for several functions; default ``f_0``)."""
        _, sin = self._features(y)
        if combo is None:
            combo = np.eye(self.w.shape[1])[0] if self.w.ndim == 2 else None
        w = self.w if combo is None else self.w @ np.asarray(combo, dtype=float)
        w_omega = (-self.amp * w)[:, None] * self.omega
        parts = THREADS.map_rows(lambda a, b: np.dot(sin[a:b], w_omega), y.shape[0],
                                  self._parallel(y.shape[0]))
        return np.concatenate(parts)

    def value(self, y: np.ndarray) -> np.ndarray:
        """``f(y) = w.phi(y)`` at the rows of ``y``."""
        return self.amp * np.cos(self._theta(y)) @ self.w
