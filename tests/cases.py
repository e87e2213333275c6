"""Fixed-point configurations shared by the linearization and rate tests.

Each case names a game (true points, weights, kernel, ``lam``), a start for
Newton and the learning rates. They cover what theory section 4 claims to
handle: true points closer than ``sigma``, several generated points per
location, mass mismatch of both signs, ``d = 1..3``, ``lam = 0`` at a perfect
match, and stable, cycling and divergent spectra.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import kernelgda as kg


@dataclass(frozen=True)
class Case:
    name: str
    x: list
    p: list
    y0: list
    q: list
    kernel: kg.Kernel
    lam: float
    eta_d: float
    eta_g: float
    tags: tuple = field(default=())

    def game(self) -> kg.KernelGAN:
        return kg.KernelGAN(self.x, self.p, self.kernel, self.lam)

    def solve(self):
        gan = self.game()
        eq = kg.find_equilibrium(gan, self.y0, self.q)
        assert eq.converged, f"{self.name}: {eq.message}"
        return gan, eq

    def gda(self, mode: str) -> kg.GDA:
        return kg.GDA(self.eta_d, self.eta_g, mode)


CASES = [
    # Two true points 0.6 sigma apart, one generated point each, generated mass short.
    Case("close-deficit-d2", [[0.0, 0.0], [0.3, 0.1]], [1.0, 0.7], [[0.01, 0.0], [0.3, 0.1]], [0.9, 0.6],
         kg.Gaussian(sigma=0.5), lam=0.4, eta_d=0.1, eta_g=0.3),
    # Three generated points on one true point (L = 1 < n = 3), generated mass short, d = 3.
    Case("coincident-deficit-d3", [[0.0, 0.0, 0.0]], [1.0], [[0.0, 0.0, 0.0]] * 3, [0.2, 0.3, 0.4],
         kg.RationalQuadratic(sigma=0.5, alpha=2.0), lam=0.4, eta_d=0.1, eta_g=0.3,
         tags=("coincident",)),
    # Two generated points merge on the first true point, one on the second, d = 1.
    Case("merged-multiscale-d1", [[0.0], [2.0]], [1.0, 0.7], [[0.01], [0.0], [1.9]], [0.3, 0.3, 0.6],
         kg.Multiscale(sigmas=(0.5, 1.5)), lam=0.4, eta_d=0.1, eta_g=0.3, tags=("coincident",)),
    # One generated point with 10% more mass than its true point, d = 1.
    Case("single-surplus-d1", [[0.0]], [1.0], [[0.0]], [1.1],
         kg.Gaussian(sigma=0.8), lam=0.5, eta_d=0.2, eta_g=0.1),
    # A spurious fixed point: one generated point between two true points.
    Case("spurious-middle-d2", [[-0.4, 0.0], [0.4, 0.0]], [0.5, 0.5], [[0.02, 0.01]], [1.0],
         kg.Gaussian(sigma=0.5), lam=0.5, eta_d=0.1, eta_g=0.2),
    # Exact match, lam = 0: the pair cycles on the unit circle (alternating).
    Case("match-lam0-d2", [[0.0, 0.0], [1.5, 0.3]], [1.0, 0.5], [[0.0, 0.0], [1.5, 0.3]], [1.0, 0.5],
         kg.Gaussian(sigma=0.6), lam=0.0, eta_d=0.1, eta_g=0.2, tags=("cycling",)),
    # Generated mass 50% above the true mass on two coincident points: spread modes unstable.
    Case("split-surplus-d2", [[0.0, 0.0]], [1.0], [[0.0, 0.0], [0.0, 0.0]], [0.75, 0.75],
         kg.Gaussian(sigma=0.5), lam=0.5, eta_d=0.1, eta_g=0.1, tags=("divergent", "coincident")),
]


def unit(rng: np.random.Generator, shape, norm: float) -> np.ndarray:
    """A random array of the given shape and Frobenius norm."""
    e = rng.normal(size=shape)
    return e * (norm / np.linalg.norm(e))
