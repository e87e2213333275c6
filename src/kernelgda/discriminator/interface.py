"""What a driver asks of a discriminator, beyond the update rules' operations (:mod:`kernelgda.rules`).

A *spec* (:class:`DiscriminatorSpec`: ``kg.RandomFeatures``, ``kg.FastGaussTransform``,
``kg.NetworkDiscriminator``, ``kg.LearnedMetric``) says how to build a discriminator; the driver
calls its :meth:`~DiscriminatorSpec.setup` once. The built discriminator (a :class:`Discriminator`)
offers the rules' operations and three run hooks with the defaults below: :meth:`~Discriminator.start_at`
(start at a fixed point's ``f*``), :meth:`~Discriminator.record` (called at every recorded step) and
:meth:`~Discriminator.kernel_movement`. A new discriminator implements these and nothing in
:func:`kernelgda.simulate` changes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DiscriminatorSpec", "Discriminator"]


class DiscriminatorSpec:
    """How to build a discriminator for :func:`kernelgda.simulate` (``discriminator=``)."""

    def setup(self, gan, gda, n: int, num_funcs: int | None = None, *, max_memory=None) -> Discriminator:
        """Check that this discriminator can run ``gda`` on ``gan`` (``ValueError`` in one line otherwise)
        and build it with ``f = 0`` for ``n`` generated points (``num_funcs`` functions for the
        two-function rules), within ``max_memory``."""
        raise NotImplementedError


class Discriminator:
    """Defaults of a built discriminator's run hooks (module docstring)."""

    #: Kernel movement at the recorded steps, for discriminators whose kernel moves (or ``None``).
    movement: list | None = None

    def start_at(self, gan, y, q, start, num_funcs: int | None = None) -> None:
        """Start at the fixed point ``f* = (K(., X) p - K(., Y*) q) / lam`` of ``(y, q)`` (theory
        section 3; ``f* = 0`` for ``lam = 0``, a perfect match): function 0 of ``num_funcs``."""
        if gan.lam > 0:
            first = 1.0 if num_funcs is None else np.eye(num_funcs)[0]
            self.add_true(first / gan.lam)
            self.add_slice(y, np.multiply.outer(-q / gan.lam, first))

    def record(self, y) -> None:
        """Called with the generated points at every recorded step (nothing to do by default)."""

    def kernel_movement(self) -> np.ndarray | None:
        """``|Theta_t - Theta_0| / |Theta_0|`` at the recorded steps (``None``: the kernel is fixed)."""
        return None if self.movement is None else np.array(self.movement)
