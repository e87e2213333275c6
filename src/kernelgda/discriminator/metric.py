"""A kernel discriminator whose Gaussian metric is learned during the run (theory section 13).

The authors' code can replace the metric ``M`` of the Gaussian kernel
``exp(-(u - v)^T M (u - v) / 2)`` (:class:`~kernelgda.kernels.anisotropic.AnisotropicGaussian`)
every ``k`` discriminator steps by the average gradient outer product (AGOP) of the
discriminator at the generated points minus that at the true points (their "RFM" option):

    D = mean_j grad f(y_j) grad f(y_j)^T - mean_i grad f(x_i) grad f(x_i)^T

``D`` can be indefinite, and a metric must be positive semidefinite: the new ``M`` is the
*positive part* of ``D`` (its eigen-decomposition with the eigenvalues at or below
``METRIC_RTOL = 1e-12`` times the largest ``|eig D|`` set to 0: negative ones, and positive
ones at the rounding level of ``D``). When the positive part has no eigenvalue in
``[PARAM_MIN, PARAM_MAX]`` (``f = 0`` at the start, or every gradient below rounding, or a
negative semidefinite ``D``) ``M`` is kept. With ``normalize=True`` the positive part is
rescaled to the trace of the current ``M``, so the update learns the metric's shape and keeps
its overall bandwidth (the AGOP of a regularized discriminator is small, ``O(1 / lam^2)``
times the squared gradients, so the raw update can widen the kernel a lot).

The discriminator is the exact kernel expansion of theory section 2 (its coefficients on the
true points and on every past generated slice), held here in plain growing arrays with no
truncation, because a new ``M`` changes every kernel section at once: after an update the same
coefficients describe a different function. The update happens when a discriminator step has
added its generated slice (``add_slice``), with the points it added, so with simultaneous and
alternating GDA (the rules supported) it falls between the discriminator's and the generator's
move of a step.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np

from ..kernels import Gaussian, Kernel
from ..kernels.anisotropic import METRIC_RTOL, AnisotropicGaussian
from ..kernels.base import PARAM_MAX, PARAM_MIN
from .interface import Discriminator, DiscriminatorSpec

__all__ = ["LearnedMetric", "MetricExpansion", "METRIC_RULES"]

#: Update rules the learned metric runs with (one discriminator function, one slice per step).
METRIC_RULES = ("simultaneous", "alternating")


@dataclass(frozen=True)
class LearnedMetric(DiscriminatorSpec):
    """Gaussian kernel discriminator whose metric is learned, for ``kg.simulate(..., discriminator=...)``.

    The game's kernel is the starting metric: an :class:`~kernelgda.kernels.anisotropic.AnisotropicGaussian`
    (or a :class:`~kernelgda.kernels.Gaussian`, ``M = I / sigma^2``). Every ``every``
    discriminator steps ``M`` becomes the positive part of the AGOP difference (module docstring).

    Parameters
    ----------
    every : int
        Discriminator steps between metric updates.
    normalize : bool
        Rescale each new metric to the trace of the one it replaces.
    track_movement : bool
        Record ``|K_t - K_0|_F / |K_0|_F`` on the true and generated points at recorded steps
        (``Trajectory.kernel_movement``).

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0, 0.0]], 1.0, kg.AnisotropicGaussian(np.eye(2)), lam=0.5)
    >>> traj = kg.simulate(gan, kg.GDA(0.2, 0.2), [[0.3, 0.1]], 1.0, num_steps=50,
    ...                    discriminator=kg.LearnedMetric(every=5, normalize=True))
    >>> bool(traj.kernel_movement[-1] > 0), float(traj.kernel_movement[0])
    (True, 0.0)
    """

    every: int = 10
    normalize: bool = False
    track_movement: bool = True

    def __post_init__(self):
        every = self.every
        if isinstance(every, bool) or not isinstance(every, Integral) or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        object.__setattr__(self, "every", int(every))
        for name in ("normalize", "track_movement"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def check_rule(self, mode: str) -> None:
        """Refuse the rules with two functions or two slices per step (module docstring)."""
        if mode not in METRIC_RULES:
            raise ValueError(f"mode={mode!r} is not available with a learned metric; use one of "
                             f"{', '.join(METRIC_RULES)}")

    def build(self, kernel: Kernel, x: np.ndarray, p: np.ndarray, num_funcs=None) -> MetricExpansion:
        """The expansion ``f = 0`` over true points ``x (m, d)`` with the game's kernel as start."""
        if isinstance(kernel, Gaussian):
            kernel = AnisotropicGaussian(np.eye(x.shape[1]) / kernel.sigma**2)
        if not isinstance(kernel, AnisotropicGaussian):
            raise ValueError("a learned metric needs the game's kernel to be kg.AnisotropicGaussian(M) "
                             f"or kg.Gaussian(sigma), got {kernel.name!r}")
        kernel.check_dim(x)
        return MetricExpansion(self, kernel, x, p)

    def setup(self, gan, gda, n, num_funcs=None, *, max_memory=None) -> MetricExpansion:
        """:meth:`check_rule`, then :meth:`build` for ``gan``."""
        self.check_rule(gda.mode)
        return self.build(gan.kernel, gan.x_true, gan.p_true, num_funcs)


class MetricExpansion(Discriminator):
    """The exact expansion ``f = c K(., X) p + sum_s K(., Y^s) w_s`` with a changing metric.

    The rules' interface (``decay``, ``add_true``, ``add_slice``, ``grad``) plus ``bound = 0``
    (no truncation), ``num_slices``, ``nbytes``, ``record`` and ``metrics`` (every metric used,
    the first being the game's).
    """

    bound = 0.0

    def __init__(self, spec: LearnedMetric, kernel: AnisotropicGaussian, x, p):
        self.spec, self.kernel, self.x, self.p = spec, kernel, x, p
        self.kernel0 = kernel
        self.c = 0.0
        self._z = np.empty((16, x.shape[1]))
        self._w = np.empty(16)
        self._size = 0
        self._steps = 0
        self._pending = False
        self.num_slices = 0
        self.metrics = [kernel.M]
        self.movement = [] if spec.track_movement else None

    @property
    def nbytes(self) -> int:
        return self._z.nbytes + self._w.nbytes

    def decay(self, factor) -> None:
        """``f <- factor f``; counts a discriminator step."""
        self._steps += 1
        self._pending = self._steps % self.spec.every == 0
        if factor != 1.0:
            self.c *= factor
            self._w[:self._size] *= factor

    def add_true(self, amount) -> None:
        """``f += amount K(., X) p``."""
        self.c += float(amount)

    def add_slice(self, y, w) -> None:
        """``f += K(., y) w``; then the metric update when it is due (module docstring)."""
        n = y.shape[0]
        if self._size + n > self._w.size:
            grow = max(2 * self._w.size, self._size + n)
            self._z = np.concatenate([self._z[:self._size], np.empty((grow - self._size, y.shape[1]))])
            self._w = np.concatenate([self._w[:self._size], np.empty(grow - self._size)])
        self._z[self._size:self._size + n] = y
        self._w[self._size:self._size + n] = w
        self._size += n
        self.num_slices += 1
        if self._pending:
            self._pending = False
            self._update(y)

    def grad(self, y) -> np.ndarray:
        """``grad f`` at the rows of ``y`` with the current metric."""
        out = self.kernel.grad_sum(y, self.x, self.c * self.p)
        if self._size:
            out += self.kernel.grad_sum(y, self._z[:self._size], self._w[:self._size])
        return out

    def field_grad(self, y, z, q):  # pragma: no cover - refused before a run (check_rule)
        raise ValueError("the learned metric runs simultaneous and alternating GDA only")

    def _update(self, y) -> None:
        gy, gx = self.grad(y), self.grad(self.x)
        D = gy.T @ gy / gy.shape[0] - gx.T @ gx / gx.shape[0]
        eig, vec = np.linalg.eigh(0.5 * (D + D.T))
        if not np.isfinite(eig).all():
            return
        eig = np.where(eig > METRIC_RTOL * np.abs(eig).max(), eig, 0.0)  # rounding counts as 0
        if not PARAM_MIN <= eig.max() <= PARAM_MAX:
            return  # no usable positive part: keep M (module docstring)
        if self.spec.normalize:
            eig *= np.trace(self.kernel.M) / eig.sum()
        self.kernel = AnisotropicGaussian((vec * eig) @ vec.T)
        self.metrics.append(self.kernel.M)

    def record(self, y) -> None:
        """Append ``|K_t - K_0|_F / |K_0|_F`` on the true points and ``y``."""
        if self.movement is None:
            return
        z = np.concatenate([self.x, y])
        base = self.kernel0.pair_value(z, z)
        now = self.kernel.pair_value(z, z)
        self.movement.append(float(np.linalg.norm(now - base) / np.linalg.norm(base)))
