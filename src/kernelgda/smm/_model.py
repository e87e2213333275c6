"""The recursion of the second-moment model and its input checks (theory section 9).

Shared by the front doors in :mod:`kernelgda.smm` and the grid runner
:mod:`kernelgda.smm.cells`; arrays carry the batch of cells in front.
"""

from __future__ import annotations

import numpy as np

from .. import _validate as V
from ..game import GDA
from ..isolated import mass_mismatch
from ..kernels import Kernel

#: Discriminator starts: the isolated fixed point's ``f*`` or ``f0 = 0``.
STARTS = ("equilibrium", "zero")


# -- validation ------------------------------------------------------------------------------

def check_params(kernel, p, q, n, lam, gda):
    """Validate the game and the rule; return ``(g, g2, p, q, n, lam)`` as float arrays."""
    if not isinstance(kernel, Kernel):
        raise ValueError(f"kernel must be a kernelgda kernel, got {kernel!r}")
    if not isinstance(gda, GDA):
        raise ValueError(f"gda must be a GDA, got {type(gda).__name__}")
    if gda.mode not in ("simultaneous", "alternating") or gda.d_steps != 1:
        raise ValueError("the second-moment model covers simultaneous and alternating GDA with "
                         f"d_steps = 1, not mode={gda.mode!r} with d_steps={gda.d_steps}")
    try:
        g, g2 = kernel.g, kernel.g2  # a ValueError for kernels without a second derivative at 0
    except AttributeError:       # a kernel that does not declare them (not radial)
        raise ValueError(f"the {kernel.name} kernel does not declare g and g2 (theory section 9): "
                         "the second-moment model needs a radial kernel") from None
    p = as_array(p, "p", nonnegative=True)
    q = as_array(q, "q", positive=True)
    n = as_array(n, "n", positive=True)
    if np.any(n != np.round(n)):
        raise ValueError("n must be a whole number >= 1")
    lam = as_array(lam, "lam", nonnegative=True)
    return g, g2, p, q, n, lam


def as_array(x, name, *, positive=False, nonnegative=False):
    """``x`` as a finite float array, with a ``ValueError`` naming ``name`` otherwise."""
    return V.array(x, name, positive=positive, nonnegative=nonnegative)


def check_moments(e0, cov0):
    """Validate ``e0 (..., d)`` and a symmetric PSD ``cov0 (..., d, d)``; return them and ``d``."""
    e0 = as_array(e0, "e0")
    cov0 = as_array(cov0, "cov0")
    if e0.ndim < 1 or e0.shape[-1] < 1:
        raise ValueError(f"e0 must have shape (..., d), got {e0.shape}")
    d = e0.shape[-1]
    if cov0.ndim < 2 or cov0.shape[-2:] != (d, d):
        raise ValueError(f"cov0 must have shape (..., {d}, {d}) to match e0, got {cov0.shape}")
    if not np.allclose(cov0, np.swapaxes(cov0, -1, -2), rtol=1e-12, atol=0.0):
        raise ValueError("cov0 must be symmetric")
    if np.any(np.linalg.eigvalsh(cov0) < -1e-12 * np.abs(cov0).max(initial=0.0)):
        raise ValueError("cov0 must be positive semidefinite")
    return e0, cov0, d


def start_curvature(start, g, delta, lam):
    """``c0`` with ``C_0 = c0 I``: ``g delta / lam`` at the isolated fixed point, 0 for ``f0 = 0``."""
    V.choice(start, "start", STARTS)
    if start == "zero":
        return np.zeros_like(delta)
    if np.any((lam == 0) & (delta != 0)):
        raise ValueError("start='equilibrium' needs lam > 0 or a matched mass (delta = 0): with "
                         "lam = 0 and delta != 0 there is no fixed point (theory section 3)")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(lam > 0, g * delta / np.where(lam > 0, lam, 1.0), 0.0)


class Model:
    """Broadcast coefficients of the recursion, shaped ``B`` (scalars per cell)."""

    def __init__(self, kernel, p, q, n, lam, gda, batch_shape, start):
        g, g2, p, q, n, lam = check_params(kernel, p, q, n, lam, gda)
        delta = mass_mismatch(p=p, q=q, n=n)
        c0 = start_curvature(start, g, delta, lam)
        shape = np.broadcast_shapes(batch_shape, p.shape, q.shape, n.shape, lam.shape)
        big_q = n * q

        def bc(x):
            return np.broadcast_to(x, shape)
        self.shape = shape
        self.decay = bc(1.0 - gda.eta_d * lam)
        self.slope = bc(gda.eta_d * g * big_q)          # b+ = decay b - slope e
        self.drive = bc(gda.eta_d * g * delta)          # C+ += drive I
        self.second = bc(gda.eta_d * g2 * big_q)        # C+ += second (W + tr W I / 2)
        self.move = bc(gda.eta_g * q)                   # M = I - move C~, e+ = M e + move b~
        self.c0 = bc(c0)
        self.alternating = gda.mode == "alternating"


def step(m, e, S, b, C, second_order):
    """One step of the recursion on arrays ``e (*B, d)``, ``S, C (*B, d, d)``, ``b (*B, d)``."""
    d = e.shape[-1]
    eye = np.eye(d)
    b_new = m.decay[..., None] * b - m.slope[..., None] * e
    C_new = m.decay[..., None, None] * C + m.drive[..., None, None] * eye
    if second_order:
        W = S + e[..., :, None] * e[..., None, :]
        trw = np.trace(W, axis1=-2, axis2=-1)
        C_new = C_new + m.second[..., None, None] * (W + 0.5 * trw[..., None, None] * eye)
    bt, Ct = (b_new, C_new) if m.alternating else (b, C)
    M = eye - m.move[..., None, None] * Ct
    e_new = (M @ e[..., None])[..., 0] + m.move[..., None] * bt
    S_new = M @ S @ np.swapaxes(M, -1, -2)
    return e_new, S_new, b_new, C_new


def initial(m, e0, cov0):
    """The starting state ``(e, S, b, C)`` broadcast over the batch of the model ``m``."""
    d = e0.shape[-1]
    e = np.broadcast_to(e0, m.shape + (d,)).copy()
    S = np.broadcast_to(cov0, m.shape + (d, d)).copy()
    b = np.zeros_like(e)
    C = m.c0[..., None, None] * np.eye(d)
    return e, S, b, C
