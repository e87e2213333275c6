"""Generators ``y_j = G(theta, z_j)``: the point model's free points and parametric ones (theory section 12).

- :class:`Points`: every point its own parameter (the model of theory sections 1-11);
- :class:`Affine`: ``y = W^T z + b``, tangent kernel ``(Z Z^T + 1 1^T) (x) I_d``;
- :class:`MLP`: a fully connected network (``tanh``, ``softplus``, ``relu``);
- :class:`JaxGenerator`: any generator written in JAX (optional extra ``kernelgda[jax]``).

Every generator implements the interface of :class:`Generator` (``points``, ``jacobian``,
``vjp``, ``contraction``), which :func:`kernelgda.simulate`, :func:`kernelgda.find_equilibrium`
and :func:`kernelgda.linearize` use; a new generator subclasses it.
"""

from .affine import Affine
from .autodiff import JaxGenerator
from .base import POINTS, Generator, Points, check_smooth
from .mlp import ACTIVATIONS, MLP

__all__ = ["Generator", "Points", "POINTS", "Affine", "MLP", "JaxGenerator", "ACTIVATIONS", "check_smooth"]
