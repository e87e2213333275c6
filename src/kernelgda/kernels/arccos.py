"""The ReLU NNGP kernel by its layer recursion, with first and second derivatives.

Theory section 10: with weight variance 2 and bias variance ``beta^2``,

    S_0(u, v) = u.v / d + beta^2
    S_l(u, v) = F(a, b, s) / pi + beta^2,   F = sqrt(a b) (sin t + (pi - t) cos t) = R + (pi - t) s

where ``a = S_{l-1}(u, u)``, ``b = S_{l-1}(v, v)``, ``s = S_{l-1}(u, v)``,
``cos t = s / sqrt(a b)`` and ``R = sqrt(a b - s^2) = sqrt(a b) sin t``; the
diagonal is ``S_l(u, u) = |u|^2 / d + (l + 1) beta^2``. The partial derivatives
of ``F`` are

    F_s = pi - t,   F_a = R / (2 a),   F_b = R / (2 b),

and its second derivatives, each ``~ 1 / R``, combine into

    F_aa da da^T + F_as (da ds^T + ds da^T) + F_ss ds ds^T = g g^T / R - R / (4 a^2) da da^T
    (u, v) block:  g_u g_v^T / R + R / (4 a b) da db^T

with ``g_u = grad_u s - s / (2 a) grad_u a`` (the part of ``grad_u s`` that turns
the angle; similarly ``g_v``). Since ``|g_u|, |g_v| = O(R)``, the ``1 / R`` terms
vanish at coincident points like ``R``: this is the ``t^3 / 3`` term of
``sin t + (pi - t) cos t = pi - pi t^2 / 2 + t^3 / 3 + ...`` (the kernel is C^2,
not C^3, at ``u = v``). To keep ``R`` and ``g`` accurate near ``u = v`` they are
propagated from the differences ``v - u`` instead of from ``a b - s^2``::

    R_0^2  = a (|w|^2 / d + kappa^2 beta^2),   w = delta - kappa u,
             kappa = u.delta / (d a),   delta = v - u,   g_u0 = w / d
    R_l^2  = a b h (2 - h) + beta^2 ((sqrt a - sqrt b)^2 + 2 sqrt(a b) h),
    h      = 1 - (sin t + (pi - t) cos t) / pi                (a series for small t)
    g_u,l  = beta^2 (S_l - a_l) / (2 a a_l) grad a + (1 - t / pi) g_u,l-1.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["nngp_value", "nngp_derivatives", "nngp_grad_coefs", "nngp_grad_sum", "nngp_grad_norms",
           "one_minus_j"]

#: Pairs whose ``R_0^2 = a b - s^2`` is below this fraction of ``a b`` (an angle below about
#: 0.01) get ``R_0`` from the differences ``v - u`` in :func:`nngp_grad_sum`; above it the
#: product form loses at most ``eps / NEAR_ANGLE2 ~ 2e-12`` of ``R_0^2``.
NEAR_ANGLE2 = 1e-4
#: Below this angle ``t cos t - sin t`` is summed as its Taylor series (7 terms: the
#: first omitted one, ``16 t^17 / 17!``, is below 1e-18 at t = 0.5); above it the closed
#: form loses at most ~1e-15 of ``h`` to cancellation.
SERIES_LIMIT = 0.5


def one_minus_j(t: np.ndarray) -> np.ndarray:
    """``h(t) = 1 - (sin t + (pi - t) cos t) / pi``, accurate for small ``t`` (``~ t^2 / 2``)."""
    t = np.asarray(t, dtype=float)
    small = t < SERIES_LIMIT
    ts = np.where(small, t, 0.0)
    t2 = ts * ts
    # t cos t - sin t = sum_{k >= 1} (-1)^k 2k t^(2k+1) / (2k+1)!
    coef = (-1.0 / 3, 1.0 / 30, -1.0 / 840, 1.0 / 45360, -1.0 / 3991680, 1.0 / 518918400,
            -1.0 / 93405312000)
    series = np.zeros_like(ts)
    for c in coef[::-1]:  # Horner in t^2
        series = series * t2 + c
    series *= ts * t2
    direct = t * np.cos(t) - np.sin(t)
    return 2.0 * np.sin(0.5 * t) ** 2 + np.where(small, series, direct) / math.pi


def _layer0(y, z, bias2):
    d = y.shape[1]
    a = (y * y).sum(1)[:, None] / d + bias2          # (n, 1)
    b = (z * z).sum(1)[None, :] / d + bias2          # (1, m)
    s = y @ z.T / d + bias2                          # (n, m)
    delta = z[None, :, :] - y[:, None, :]            # (n, m, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa_u = np.where(a > 0, np.einsum("nd,nmd->nm", y, delta) / (d * a), 0.0)
        kappa_v = np.where(b > 0, np.einsum("md,nmd->nm", z, delta) / (d * b), 0.0)
    w = delta - kappa_u[..., None] * y[:, None, :]
    r = np.sqrt(a * ((w * w).sum(-1) / d + kappa_u**2 * bias2))
    g_u = w / d
    g_v = (-delta + kappa_v[..., None] * z[None, :, :]) / d
    return a, b, s, r, g_u, g_v


def nngp_value(y: np.ndarray, z: np.ndarray, depth: int, bias: float) -> np.ndarray:
    """``K(y_a, z_b) = S_depth``, shape ``(n, m)`` (trusted float64 inputs)."""
    bias2 = bias * bias
    a, b, s, r, _, _ = _layer0(y, z, bias2)
    for _ in range(depth):
        t = np.arctan2(r, s)
        h = one_minus_j(t)
        p = np.sqrt(a * b)
        ra, rb = np.sqrt(a), np.sqrt(b)
        s_new = (r + (math.pi - t) * s) / math.pi + bias2
        r = np.sqrt(p * p * h * (2.0 - h) + bias2 * ((ra - rb) ** 2 + 2.0 * p * h))
        a, b, s = a + bias2, b + bias2, s_new
    return s


def nngp_derivatives(y: np.ndarray, z: np.ndarray, depth: int, bias: float, order: str) -> np.ndarray:
    """``grad_u K`` (``order="grad"``, ``(n, m, d)``), ``d_u d_u^T K`` (``"hessian"``) or
    ``d_u d_v^T K`` (``"mixed"``, ``(n, m, d, d)``) at all pairs ``(y_a, z_b)``.

    Needs ``a, b > 0`` (no zero point when ``bias = 0``); trusted float64 inputs.
    """
    bias2 = bias * bias
    n, d = y.shape
    m = z.shape[0]
    a, b, s, r, g_u, g_v = _layer0(y, z, bias2)
    da = (2.0 / d) * y[:, None, :]                   # grad_u a_l, the same at every layer
    db = (2.0 / d) * z[None, :, :]                   # grad_v b_l
    eye = np.eye(d)
    if order == "grad":
        out = np.broadcast_to(z[None, :, :] / d, (n, m, d)).copy()
    elif order == "hessian":
        out = np.zeros((n, m, d, d))
    else:
        out = np.broadcast_to(eye / d, (n, m, d, d)).copy()
    for _ in range(depth):
        t = np.arctan2(r, s)
        h = one_minus_j(t)
        p = np.sqrt(a * b)
        ra, rb = np.sqrt(a), np.sqrt(b)
        fs = math.pi - t
        # 1 / R where R is resolved; where R ~ 0 the 1/R terms are O(R) and are dropped.
        inv_r = np.divide(1.0, r, out=np.zeros_like(r), where=r > 1e-200 * p)
        if order == "grad":
            out = ((r / (2.0 * a))[..., None] * da + fs[..., None] * out) / math.pi
        elif order == "hessian":
            quad = (inv_r[..., None, None] * g_u[..., :, None] * g_u[..., None, :]
                    - (r / (4.0 * a * a))[..., None, None] * da[..., :, None] * da[..., None, :])
            out = ((r / (a * d))[..., None, None] * eye + fs[..., None, None] * out + quad) / math.pi
        else:
            quad = (inv_r[..., None, None] * g_u[..., :, None] * g_v[..., None, :]
                    + (r / (4.0 * a * b))[..., None, None] * da[..., :, None] * db[..., None, :])
            out = (fs[..., None, None] * out + quad) / math.pi
        s_new = (r + fs * s) / math.pi + bias2
        a_new, b_new = a + bias2, b + bias2
        # S_l - a_l and S_l - b_l without cancellation (module docstring).
        su = ra * (rb - ra) - p * h
        sv = rb * (ra - rb) - p * h
        g_u = (bias2 * su / (2.0 * a * a_new))[..., None] * da + (fs / math.pi)[..., None] * g_u
        g_v = (bias2 * sv / (2.0 * b * b_new))[..., None] * db + (fs / math.pi)[..., None] * g_v
        r = np.sqrt(p * p * h * (2.0 - h) + bias2 * ((ra - rb) ** 2 + 2.0 * p * h))
        a, b, s = a_new, b_new, s_new
    return out


def _r0_pairs(u, v, a, bias2):
    """Layer-0 ``R_0`` of the pairs ``(u_k, v_k)`` (rows of ``(P, d)`` arrays) from the
    differences ``v - u`` (module docstring); ``a`` is ``S_0(u, u)``, shape ``(P,)``."""
    d = u.shape[1]
    delta = v - u
    kappa = np.einsum("pd,pd->p", u, delta) / (d * a)
    w = delta - kappa[:, None] * u
    return np.sqrt(a * (np.einsum("pd,pd->p", w, w) / d + kappa**2 * bias2))


def nngp_grad_coefs(y: np.ndarray, z: np.ndarray, depth: int, bias: float):
    """``(A, B)``, each ``(n, M)``, with ``grad_u K(y_a, z_c) = A_ac y_a + B_ac z_c``.

    Every layer's gradient lies in the span of ``u`` and ``v``: ``grad_u S_l = A_l u + B_l v``
    with ``A_0 = 0``, ``B_0 = 1 / d`` and (from the recursion of :func:`nngp_derivatives`)

        A_l = (R / (a d) + (pi - t) A_{l-1}) / pi,    B_l = (pi - t) B_{l-1} / pi.

    ``R_0`` comes from ``a b - s^2`` except for nearly parallel pairs
    (:data:`NEAR_ANGLE2`), where it is recomputed from the differences; the later layers
    propagate ``R`` as :func:`nngp_value` does. Trusted float64 inputs with ``a, b > 0``.
    """
    bias2 = bias * bias
    d = y.shape[1]
    a = (y * y).sum(1)[:, None] / d + bias2
    b = (z * z).sum(1)[None, :] / d + bias2
    s = y @ z.T / d + bias2
    ab = a * b
    r2 = ab - s * s
    near = r2 < NEAR_ANGLE2 * ab
    if near.any():
        i, j = np.nonzero(near)
        r = np.sqrt(np.maximum(r2, 0.0))
        r[i, j] = _r0_pairs(y[i], z[j], a[i, 0], bias2)
    else:
        r = np.sqrt(r2)
    coef_u = np.zeros_like(s)
    coef_v = np.full_like(s, 1.0 / d)
    for layer in range(depth):
        t = np.arctan2(r, s)
        fs = (math.pi - t) / math.pi
        coef_u = r / (math.pi * a * d) + fs * coef_u
        coef_v *= fs
        if layer == depth - 1:  # the last layer's S and R are not needed
            break
        h = one_minus_j(t)
        p = np.sqrt(a * b)
        ra, rb = np.sqrt(a), np.sqrt(b)
        s = r / math.pi + fs * s + bias2
        r = np.sqrt(p * p * h * (2.0 - h) + bias2 * ((ra - rb) ** 2 + 2.0 * p * h))
        a, b = a + bias2, b + bias2
    return coef_u, coef_v


def nngp_grad_sum(y: np.ndarray, z: np.ndarray, w: np.ndarray, depth: int, bias: float) -> np.ndarray:
    """``sum_c w_c grad_u K(y_a, z_c)``, shape ``(n, d)``, without ``(n, M, d)`` arrays:
    ``(A w) * y + (B * w) z`` with the coefficients of :func:`nngp_grad_coefs`."""
    coef_u, coef_v = nngp_grad_coefs(y, z, depth, bias)
    return (coef_u @ w)[:, None] * y + (coef_v * w) @ z


def nngp_grad_norms(y: np.ndarray, z: np.ndarray, depth: int, bias: float) -> np.ndarray:
    """``|grad_u K(y_a, z_c)|``, shape ``(n, M)``, from ``|A u + B v|^2`` (:func:`nngp_grad_coefs`)."""
    coef_u, coef_v = nngp_grad_coefs(y, z, depth, bias)
    sq = (coef_u**2 * (y * y).sum(1)[:, None] + 2.0 * coef_u * coef_v * (y @ z.T)
          + coef_v**2 * (z * z).sum(1)[None, :])
    return np.sqrt(np.maximum(sq, 0.0))
