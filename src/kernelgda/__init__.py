"""kernelgda: gradient descent-ascent for GANs with kernel discriminators.

Exact nonlinear dynamics, fixed points, linearization at any fixed point, and
the closed forms of the isolated points model (Becker, Pandit, Rangan and
Fletcher, 2023). The mathematics is written out in ``docs/theory.md``.
"""

from . import generator_rates, generators, isolated, moments, smm
from .batch import simulate_batch
from .catalogue import Catalogue, fixed_points
from .check import RateCheck, check_rate
from .compare import compare
from .discriminator.fgt import FastGaussTransform
from .discriminator.metric import LearnedMetric
from .discriminator.network import NetworkDiscriminator
from .dynamics import Trajectory, simulate
from .equilibrium import Equilibrium, find_equilibrium
from .features import RandomFeatures
from .game import GDA, MODES, KernelGAN
from .kernels import (
    NNGP,
    NTK,
    AnisotropicGaussian,
    EmpiricalNTK,
    ErfNNGP,
    Gaussian,
    Kernel,
    Laplacian,
    Multiscale,
    RationalQuadratic,
    make_kernel,
)
from .linearize import Linearization, field_eigenvalues, linearize
from .phase import phase_diagram
from .regimes import REGIMES, classify
from .rules import stability_region
from .wasserstein import wasserstein2, wasserstein2_series

__version__ = "0.1.0"

__all__ = [
    "GDA", "MODES", "REGIMES", "Catalogue", "Equilibrium", "Gaussian", "Kernel", "KernelGAN", "Laplacian",
    "Linearization", "Multiscale", "NNGP", "NTK", "AnisotropicGaussian", "ErfNNGP", "EmpiricalNTK",
    "RationalQuadratic", "Trajectory", "classify",
    "field_eigenvalues", "find_equilibrium", "fixed_points", "isolated", "linearize", "make_kernel",
    "moments", "simulate", "smm",
    "simulate_batch", "RandomFeatures", "FastGaussTransform", "NetworkDiscriminator", "LearnedMetric",
    "phase_diagram", "compare", "check_rate", "RateCheck",
    "stability_region", "wasserstein2", "wasserstein2_series", "generators", "generator_rates",
    "__version__",
]
