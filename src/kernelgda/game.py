"""The kernel GAN (true points, weights, kernel, regularization) and the GDA settings.

Theory sections 1 and 2. ``KernelGAN`` holds the data distribution
``P = sum_i p_i delta_{x_i}``, the kernel ``K`` and the discriminator
regularization ``lam``; ``GDA`` holds the learning rates and the update rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _validate as V
from .kernels import Kernel
from .rules import RULES, get_rule

__all__ = ["KernelGAN", "GDA", "MODES"]

#: Update rules understood by :class:`GDA` (theory sections 2 and 8): the names of the one
#: registry :data:`kernelgda.rules.REGISTRY`.
MODES = RULES


@dataclass(frozen=True, eq=False)
class KernelGAN:
    """A GAN with a kernel (RKHS) discriminator and free generated points.

    Parameters
    ----------
    x_true : (m, d) array
        True points ``x_i``.
    p_true : (m,) array or scalar
        Their weights ``p_i > 0``.
    kernel : Kernel
        A kernel from :mod:`kernelgda.kernels`.
    lam : float
        Discriminator regularization ``lam >= 0``. With ``lam = 0`` the fixed
        point requires a perfect match of the two distributions (theory section 3).

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN(x_true=[[0.0, 0.0]], p_true=1.0, kernel=kg.Gaussian(sigma=0.5), lam=0.3)
    >>> gan.m, gan.d
    (1, 2)
    """

    x_true: np.ndarray
    p_true: np.ndarray
    kernel: Kernel
    lam: float
    m: int = field(init=False)
    d: int = field(init=False)

    def __post_init__(self):
        if not isinstance(self.kernel, Kernel):
            raise ValueError(f"kernel must be a kernelgda kernel (e.g. kg.Gaussian(sigma=1)), "
                             f"got {self.kernel!r}")
        x = V.points(self.x_true, "x_true")
        p = V.weights(self.p_true, "p_true", x.shape[0])
        x.flags.writeable = False
        p.flags.writeable = False
        object.__setattr__(self, "x_true", x)
        object.__setattr__(self, "p_true", p)
        object.__setattr__(self, "lam", V.scalar(self.lam, "lam", nonnegative=True))
        object.__setattr__(self, "m", x.shape[0])
        object.__setattr__(self, "d", x.shape[1])

    def check_generated(self, y, q):
        """Validate generated points ``y (n, d)`` and weights ``q (n,)`` against this game."""
        y = V.points(y, "y", d=self.d)
        q = V.weights(q, "q", y.shape[0])
        return y, q

    def with_lam(self, lam: float) -> KernelGAN:
        """The same game with another regularization."""
        return KernelGAN(self.x_true, self.p_true, self.kernel, lam)

    def with_kernel(self, kernel: Kernel) -> KernelGAN:
        """The same game with another kernel."""
        return KernelGAN(self.x_true, self.p_true, kernel, self.lam)

    def mmd2(self, y, q) -> float:
        """``MMD_K^2(P, Q) = |K(., X) p - K(., Y) q|_H^2`` (theory section 1)."""
        y, q = self.check_generated(y, q)
        k = self.kernel
        x, p = self.x_true, self.p_true
        return float(p @ k(x, x) @ p - 2.0 * p @ k(x, y) @ q + q @ k(y, y) @ q)


@dataclass(frozen=True)
class GDA:
    """Learning rates and update rule of gradient descent-ascent (theory sections 2 and 8).

    Parameters
    ----------
    eta_d : float
        Discriminator learning rate, ``> 0``.
    eta_g : float
        Generator learning rate, ``> 0``.
    mode : {"alternating", "simultaneous", "extragradient", "optimistic", "momentum"}
        ``"alternating"`` takes the discriminator step first and moves the
        generator along the new discriminator (the authors' simulator);
        ``"simultaneous"`` moves both from the same state; the other rules are
        those of theory section 8.
    d_steps : int >= 1
        Discriminator steps per generator step; a value other than 1 needs
        ``mode="alternating"``.
    beta : float in (-1, 1)
        Heavy-ball coefficient (negative is "negative momentum"); a value other
        than 0 needs ``mode="momentum"``.

    Examples
    --------
    >>> GDA(eta_d=0.1, eta_g=0.5).mode
    'alternating'
    >>> GDA(0.1, 0.1, mode="momentum", beta=-0.3).beta
    -0.3
    """

    eta_d: float
    eta_g: float
    mode: str = "alternating"
    d_steps: int = 1
    beta: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "eta_d", V.scalar(self.eta_d, "eta_d", positive=True))
        object.__setattr__(self, "eta_g", V.scalar(self.eta_g, "eta_g", positive=True))
        V.choice(self.mode, "mode", MODES)
        d_steps, beta = get_rule(self.mode).check_options(self.d_steps, self.beta)
        object.__setattr__(self, "d_steps", d_steps)
        object.__setattr__(self, "beta", beta)

    @property
    def mu(self) -> float:
        """Learning-rate ratio ``mu = eta_g / eta_d`` (the continuous-time parameter)."""
        return self.eta_g / self.eta_d

    def rule_options(self) -> dict:
        """The rule's extra options, as keyword arguments for ``kg.isolated.eigenvalues``."""
        return get_rule(self.mode).options(self.d_steps, self.beta)
