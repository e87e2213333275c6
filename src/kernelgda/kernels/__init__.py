"""Kernels: values, gradients, Hessians and mixed second derivatives (theory sections 1, 9, 10, 13).

:class:`Kernel` (in :mod:`.base`) is the interface the rest of the library uses; the radial
kernels are in :mod:`.radial`, the NNGP kernel in :mod:`.nngp`, the two-layer network kernels
(analytic NTK, erf NNGP; theory section 13) in :mod:`.ntk` and a finite network's empirical
tangent kernel in :mod:`.tangent`, the Gaussian kernel with a metric in :mod:`.anisotropic`.
A new kernel subclasses
:class:`Kernel` (or :class:`RadialKernel` when it is a function of ``|u - v|^2``) and is
added to :data:`KERNELS` so that scenario files can name it.
"""

from __future__ import annotations

from .. import _validate as V
from .anisotropic import AnisotropicGaussian
from .base import PARAM_MAX, PARAM_MIN, Kernel, RadialKernel, sqdist
from .nngp import MAX_DEPTH, NNGP
from .ntk import NTK, ErfNNGP
from .radial import Gaussian, Laplacian, Multiscale, RationalQuadratic
from .tangent import EmpiricalNTK

__all__ = ["Kernel", "RadialKernel", "Gaussian", "RationalQuadratic", "Laplacian", "Multiscale", "NNGP",
           "NTK", "ErfNNGP", "AnisotropicGaussian", "EmpiricalNTK", "KERNELS", "make_kernel", "PARAM_MIN",
           "PARAM_MAX", "MAX_DEPTH", "sqdist"]


KERNELS = {
    "gaussian": Gaussian,
    "rational_quadratic": RationalQuadratic,
    "laplacian": Laplacian,
    "multiscale": Multiscale,
    "nngp": NNGP,
    "ntk": NTK,
    "erf_nngp": ErfNNGP,
    "empirical_ntk": EmpiricalNTK,
    "anisotropic_gaussian": AnisotropicGaussian,
}


def make_kernel(kind: str = "gaussian", **params) -> Kernel:
    """Build a kernel from its registry name and parameters (``make_kernel("gaussian", sigma=1)``).

    Parameters
    ----------
    kind : str
        A name in :data:`KERNELS` (``"gaussian"``, ``"rational_quadratic"``, ``"laplacian"``,
        ``"multiscale"``, ``"nngp"``, ...), as in a scenario file's ``[kernel]`` table.
    **params
        The kernel's parameters (``sigma``, ``alpha``, ``sigmas``, ``depth``, ...).

    Returns
    -------
    Kernel

    Examples
    --------
    >>> make_kernel("rational_quadratic", sigma=0.5, alpha=2.0)
    RationalQuadratic(sigma=0.5, alpha=2.0)
    """
    V.choice(kind, "kernel kind", tuple(KERNELS))
    try:
        return KERNELS[kind](**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters for kernel {kind!r}: {exc}") from None
