"""kernelgda: gradient descent-ascent for GANs with kernel discriminators.

Exact nonlinear dynamics, fixed points, linearization at any fixed point, and
the closed forms of the isolated points model (Becker, Pandit, Rangan and
Fletcher, 2023). The mathematics is specified in ``theory.md``.
"""

from . import isolated, smm
from .batch import simulate_batch
from .dynamics import Trajectory, simulate
from .equilibrium import Equilibrium, find_equilibrium
from .features import RandomFeatures
from .game import GDA, MODES, KernelGAN
from .kernels import Gaussian, Kernel, Laplacian, Multiscale, RationalQuadratic, make_kernel
from .linearize import Linearization, linearize
from .regimes import REGIMES, classify
from .rules import field_eigenvalues, stability_region
from .sweep import compare, phase_diagram

__version__ = "0.1.0"

__all__ = [
    "GDA", "MODES", "REGIMES", "Equilibrium", "Gaussian", "Kernel", "KernelGAN", "Laplacian",
    "Linearization", "Multiscale", "RationalQuadratic", "Trajectory", "classify",
    "field_eigenvalues", "find_equilibrium", "isolated", "linearize", "smm", "make_kernel", "simulate",
    "simulate_batch", "RandomFeatures", "phase_diagram", "compare",
    "stability_region", "__version__",
]
