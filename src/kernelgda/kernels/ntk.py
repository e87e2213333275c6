"""Infinite-width kernels of a two-layer network: the NTK and the erf NNGP (theory section 13).

The network is ``f(u) = (1/sqrt(h)) sum_r a_r phi(w_r . u + b_r)`` with
``w_r ~ N(0, s_w^2 I)``, ``b_r ~ N(0, s_b^2)``, ``a_r ~ N(0, 1)``. With ``u~ = (u, 1)``,
``S = diag(s_w^2 I_d, s_b^2)``, ``A = u~^T S u~``, ``B = u~^T S v~``, ``C = v~^T S v~`` and
``D = u . v + 1``, its tangent kernel tends to

    Theta(u, v) = E[phi phi] + E[phi' phi'] D

(the ``a_r`` part, then the ``w_r, b_r`` part; ``E[a^2] = 1``).

**erf.** With ``a = 1 + 2 A``, ``c = 1 + 2 C``, ``g = a c - 4 B^2`` (``>= 1`` by
Cauchy-Schwarz, so nothing is singular) and ``k = 4 / pi``:

    N = E[erf erf]   = (2/pi) arcsin(2 B / sqrt(a c)) = (2/pi) atan2(2 B, sqrt g)
    E = E[erf' erf'] = k g^(-1/2)

Every derivative follows by the chain rule through ``(A, B, C, D)``: ``grad_u A = 2 s_w^2 u``,
``grad_u B = s_w^2 v``, ``grad_u D = v``, so ``grad_u K = alpha u + beta v`` with
``alpha = 2 s_w^2 K_A`` and ``beta = s_w^2 K_B + K_D``, and

    hess_u K  = alpha I + u (grad_u alpha)^T + v (grad_u beta)^T
    d_u d_v^T K = beta I + u (grad_v alpha)^T + v (grad_v beta)^T

with the partial derivatives of ``N`` and ``E`` (``N_B = E``, ``N_BB = E_B``, ``N_BC = E_C``):

    N_A = -k B / (a sqrt g)          E_A = -k c g^-3/2     E_B = 4 k B g^-3/2     E_C = -k a g^-3/2
    N_AA = k B (2 / (a^2 sqrt g) + c / (a g^3/2))     N_AB = -(k / a) (g^-1/2 + 4 B^2 g^-3/2)
    N_AC = k B g^-3/2                E_AA = 3 k c^2 g^-5/2    E_AB = -12 k B c g^-5/2
    E_AC = -2 k g^-3/2 + 3 k a c g^-5/2    E_BB = 4 k g^-3/2 + 48 k B^2 g^-5/2    E_BC = -12 k a B g^-5/2

**ReLU.** Arc-cosine kernels of orders 1 and 0 with ``R = sqrt(A C - B^2)`` and the angle
``t = atan2(R, B)``:

    E[relu relu] = (R + (pi - t) B) / (2 pi),        E[step step] = (pi - t) / (2 pi)

The order-0 kernel has a cusp at ``u = v`` (its gradient ``s_w^2 w / (2 pi R)``,
``w = v - (B / A) u``, has a direction but no limit), so the ReLU NTK has a value and a
gradient (0 for the cusp term at coincident points) and no second derivative: like the
Laplacian, simulation only. ``R`` and ``w`` are computed from the difference ``v - u``
so that they keep their digits near ``u = v``.

Neither kernel is radial or translation invariant: the isolated closed forms and the
second-moment model refuse them (``curvature`` and ``g`` raise), the general linearization
(theory section 4) takes the erf kernels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import _validate as V
from .base import Kernel, check_param

__all__ = ["NTK", "ErfNNGP", "ACTIVATIONS", "check_activation", "check_scales"]

#: Activations of the two-layer network (``erf``: smooth; ``relu``: value and gradient only).
ACTIVATIONS = ("erf", "relu")
_K = 4.0 / math.pi


def check_activation(activation) -> str:
    """``activation`` as one of :data:`ACTIVATIONS` (``ValueError`` naming it otherwise)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(map(repr, ACTIVATIONS))}; got {activation!r}")
    return activation


def check_scales(sigma_w, sigma_b):
    sigma_w = check_param(sigma_w, "sigma_w")
    sigma_b = V.scalar(sigma_b, "sigma_b", nonnegative=True)
    return sigma_w, 0.0 if sigma_b == 0 else check_param(sigma_b, "sigma_b")


def _abcd(y, z, s2, b2):
    """``A (n, 1)``, ``B (n, m)``, ``C (1, m)``, ``D (n, m)`` of the module docstring."""
    dot = y @ z.T
    return (s2 * (y * y).sum(1)[:, None] + b2, s2 * dot + b2, s2 * (z * z).sum(1)[None, :] + b2,
            dot + 1.0)


def _outer_sum(terms, d):
    """``sum_i c_i x_i y_i^T`` over pairs: ``terms`` holds ``(c (n, m), x, y)`` with ``x, y``
    of shape ``(n, 1, d)`` or ``(1, m, d)``; ``None`` for ``x`` means the identity."""
    out = None
    for c, x, y in terms:
        part = c[..., None, None] * (np.eye(d) if x is None else x[..., :, None] * y[..., None, :])
        out = part if out is None else out + part
    return out


class _ErfKernel(Kernel):
    """Shared closed form of the erf NTK (``ntk = 1``) and the erf NNGP (``ntk = 0``)."""

    ntk = 1.0

    @property
    def length_scale(self) -> float:
        """``1 / sigma_w``: the input distance over which a pre-activation changes by one."""
        return 1.0 / self.sigma_w

    def _parts(self, y, z):
        s = self.sigma_w ** 2
        A, B, C, D = _abcd(y, z, s, self.sigma_b ** 2)
        a, c = 1.0 + 2.0 * A, 1.0 + 2.0 * C
        g = a * c - 4.0 * B * B
        return s, A, B, C, D, a, c, g

    def pair_value(self, y, z):
        _, _, B, _, D, _, _, g = self._parts(y, z)
        rg = np.sqrt(g)
        return (2.0 / math.pi) * np.arctan2(2.0 * B, rg) + self.ntk * _K / rg * D

    def _coefs(self, y, z, second):
        """``alpha``, ``beta`` and (``second``) their partial derivatives in ``A, B, C, D``."""
        s, _, B, _, D, a, c, g = self._parts(y, z)
        t = self.ntk
        g1, g3 = g ** -0.5, g ** -1.5
        E, E_A, E_B, E_C = _K * g1, -_K * c * g3, 4 * _K * B * g3, -_K * a * g3
        N_A = -_K * B / a * g1
        alpha = 2 * s * (N_A + t * E_A * D)
        beta = s * (E + t * E_B * D) + t * E
        if not second:
            return s, alpha, beta, E
        g5 = g ** -2.5
        N_AA = _K * B * (2.0 / (a * a) * g1 + c / a * g3)
        N_AB = -_K / a * (g1 + 4 * B * B * g3)
        N_AC = _K * B * g3
        E_AA, E_AB = 3 * _K * c * c * g5, -12 * _K * B * c * g5
        E_AC = -2 * _K * g3 + 3 * _K * a * c * g5
        E_BB, E_BC = 4 * _K * g3 + 48 * _K * B * B * g5, -12 * _K * a * B * g5
        al = {"A": 2 * s * (N_AA + t * E_AA * D), "B": 2 * s * (N_AB + t * E_AB * D),
              "C": 2 * s * (N_AC + t * E_AC * D), "D": 2 * s * t * E_A}
        be = {"A": s * (N_AB + t * E_AB * D) + t * E_A, "B": s * (E_B + t * E_BB * D) + t * E_B,
              "C": s * (E_C + t * E_BC * D) + t * E_C, "D": s * t * E_B}
        return s, alpha, beta, al, be

    def pair_grad(self, y, z):
        _, alpha, beta, _ = self._coefs(y, z, False)
        return alpha[..., None] * y[:, None, :] + beta[..., None] * z[None, :, :]

    def pair_hessian(self, y, z):
        s, alpha, _, al, be = self._coefs(y, z, True)
        u, v = y[:, None, :], z[None, :, :]
        return _outer_sum([(alpha, None, None), (2 * s * al["A"], u, u), (s * al["B"] + al["D"], u, v),
                           (2 * s * be["A"], v, u), (s * be["B"] + be["D"], v, v)], y.shape[1])

    def pair_mixed(self, y, z):
        s, _, beta, al, be = self._coefs(y, z, True)
        u, v = y[:, None, :], z[None, :, :]
        return _outer_sum([(beta, None, None), (s * al["B"] + al["D"], u, u), (2 * s * al["C"], u, v),
                           (s * be["B"] + be["D"], v, u), (2 * s * be["C"], v, v)], y.shape[1])


@dataclass(frozen=True)
class ErfNNGP(_ErfKernel):
    """NNGP kernel of a two-layer erf network: ``E[erf(w.u + b) erf(w.v + b)]`` (theory section 13).

    ``K(u, v) = (2/pi) arcsin(2 B / sqrt((1 + 2 A)(1 + 2 C)))`` (module docstring), the
    first term of :class:`NTK` with ``activation="erf"``: the kernel of the network's
    output weights alone. Smooth, neither radial nor translation invariant.

    Parameters
    ----------
    sigma_w : float
        Standard deviation of the input weights (``length_scale = 1 / sigma_w``).
    sigma_b : float
        Standard deviation of the biases (0 allowed).

    Examples
    --------
    >>> k = ErfNNGP(sigma_w=1.0, sigma_b=0.0)
    >>> float(np.round(k([[0.0]], [[1.0]])[0, 0], 12))   # erf(b) = 0 at the origin
    0.0
    >>> bool(np.isclose(k([[1.0]], [[1.0]])[0, 0], 2 / np.pi * np.arcsin(2 / 3)))
    True
    """

    sigma_w: float = 1.0
    sigma_b: float = 0.0
    name = "erf_nngp"
    ntk = 0.0

    def __post_init__(self):
        sigma_w, sigma_b = check_scales(self.sigma_w, self.sigma_b)
        object.__setattr__(self, "sigma_w", sigma_w)
        object.__setattr__(self, "sigma_b", sigma_b)

    def params(self) -> dict:
        return {"kind": self.name, "sigma_w": self.sigma_w, "sigma_b": self.sigma_b}


@dataclass(frozen=True)
class NTK(_ErfKernel):
    """Neural tangent kernel of a two-layer network at infinite width (theory section 13).

    ``Theta(u, v) = E[phi phi] + E[phi' phi'] (u . v + 1)`` for the network
    ``f(u) = (1/sqrt(h)) sum_r a_r phi(w_r . u + b_r)`` with ``w_r ~ N(0, sigma_w^2 I)``,
    ``b_r ~ N(0, sigma_b^2)``, ``a_r ~ N(0, 1)``: the limit of
    :meth:`kernelgda.NetworkDiscriminator.tangent_kernel` as the width grows.

    Parameters
    ----------
    activation : {"erf", "relu"}
        ``"erf"``: closed form with every derivative (fixed points, linearization, phase
        grids). ``"relu"``: arc-cosine kernels of orders 1 and 0, value and gradient only
        (a cusp at coincident points: simulation only, like the Laplacian).
    sigma_w : float
        Standard deviation of the input weights (``length_scale = 1 / sigma_w``).
    sigma_b : float
        Standard deviation of the biases (0 allowed; ReLU then needs points off the origin).

    Examples
    --------
    >>> k = NTK("erf", sigma_w=1.0, sigma_b=0.5)
    >>> u = [[0.3]]
    >>> bool(np.isclose(k(u, u)[0, 0], ErfNNGP(1.0, 0.5)(u, u)[0, 0]
    ...                 + 4 / np.pi / np.sqrt(1.0 + 4 * 0.34) * 1.09))
    True
    >>> k.smooth, NTK("relu").smooth
    (True, False)
    """

    activation: str = "erf"
    sigma_w: float = 1.0
    sigma_b: float = 0.0
    name = "ntk"

    def __post_init__(self):
        object.__setattr__(self, "activation", check_activation(self.activation))
        sigma_w, sigma_b = check_scales(self.sigma_w, self.sigma_b)
        object.__setattr__(self, "sigma_w", sigma_w)
        object.__setattr__(self, "sigma_b", sigma_b)

    @property
    def smooth(self) -> bool:
        """ReLU has a cusp at coincident points (module docstring)."""
        return self.activation == "erf"

    def params(self) -> dict:
        return {"kind": self.name, "activation": self.activation, "sigma_w": self.sigma_w,
                "sigma_b": self.sigma_b}

    # -- ReLU: arc-cosine kernels of orders 1 and 0 ---------------------------------------
    def _relu_parts(self, y, z):
        s, b2 = self.sigma_w ** 2, self.sigma_b ** 2
        A, B, C, D = _abcd(y, z, s, b2)
        if np.any(A <= 0) or np.any(C <= 0):
            raise ValueError("the ReLU NTK with sigma_b = 0 needs every point off the origin "
                             "(the arc-cosine kernel's angle is undefined there); use sigma_b > 0")
        # w = v - (B / A) u from the difference delta = v - u: kappa = s u.delta / A
        delta = z[None, :, :] - y[:, None, :]
        kappa = s * np.einsum("nd,nmd->nm", y, delta) / A
        w = delta - kappa[..., None] * y[:, None, :]
        R = np.sqrt(A * (s * (w * w).sum(-1) + b2 * kappa * kappa))
        return s, A, B, D, R, w, np.arctan2(R, B)

    def pair_value(self, y, z):
        if self.activation == "erf":
            return super().pair_value(y, z)
        _, _, B, D, R, _, t = self._relu_parts(y, z)
        return (R + (math.pi - t) * B) / (2 * math.pi) + (math.pi - t) / (2 * math.pi) * D

    def pair_grad(self, y, z):
        if self.activation == "erf":
            return super().pair_grad(y, z)
        s, A, _, D, R, w, t = self._relu_parts(y, z)
        f0 = (math.pi - t) / (2 * math.pi)
        with np.errstate(divide="ignore", invalid="ignore"):
            cusp = np.where(R > 0, s * D / (2 * math.pi * R), 0.0)  # 0 at coincident points
        u, v = y[:, None, :], z[None, :, :]
        return ((s * R / (2 * math.pi * A))[..., None] * u + (s * f0 + f0)[..., None] * v
                + cusp[..., None] * w)

    def _no_second(self, what):
        raise ValueError(f"the ReLU NTK has no {what}: its order-0 arc-cosine part has a cusp at "
                         "coincident points (theory section 13); use activation='erf'")

    def pair_hessian(self, y, z):
        if self.activation == "erf":
            return super().pair_hessian(y, z)
        self._no_second("Hessian")

    def pair_mixed(self, y, z):
        if self.activation == "erf":
            return super().pair_mixed(y, z)
        self._no_second("mixed second derivative")
