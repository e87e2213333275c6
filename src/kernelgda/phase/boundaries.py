"""Closed-form regime boundaries of the isolated points model, for drawing over phase diagrams.

Alternating GDA (theory section 5): the edges of the complex-pair band and the divergence
line in the ``(sigma, lam)`` plane, and at ``delta = 0`` the best regularization.
"""

from __future__ import annotations

import numpy as np

from .. import isolated
from .dataset import NETCDF_MODE

__all__ = ["pair_boundaries", "closed_form_boundaries"]


def pair_boundaries(*, p, q, n, eta_d, eta_g, lam):
    """Bandwidths at which the alternating coupled pair changes regime, for each ``lam``.

    With ``u = 1 / sigma^2`` the pair of theory section 5 has ``c = C0 u`` and
    ``kappa = K0 u`` (``C0 = eta_d eta_g n q^2``, ``K0 = eta_g q delta / lam``). Its roots
    are complex where ``tr^2 < 4 det``, i.e. between the roots in ``u`` of

        (K0 + C0)^2 u^2 - (2 (2 - a) (K0 + C0) - 4 (1 - a) K0) u + a^2 = 0,

    and it diverges through ``-1`` where ``c > (2 - a)(2 - kappa)``
    (:func:`kernelgda.isolated.divergence_threshold`), i.e. for
    ``sigma^2 < (C0 + (2 - a) K0) / (2 (2 - a))``. At ``delta = 0`` the band is
    :func:`kernelgda.isolated.best_sigma_window` and the line
    :func:`kernelgda.isolated.divergence_sigma`.

    Returns
    -------
    band_low, band_high, divergence : arrays like ``lam``
        Edges of the complex-pair band and the divergence line in ``sigma``
        (``nan`` where there is none).
    """
    lam = np.asarray(lam, dtype=float)
    a = eta_d * lam
    c0 = eta_d * eta_g * n * q**2
    with np.errstate(invalid="ignore", divide="ignore"):
        k0 = np.where(lam > 0, eta_g * q * (p - n * q) / np.where(lam > 0, lam, 1.0),
                      0.0 if p == n * q else np.nan)
        quad_a = (k0 + c0) ** 2
        quad_b = -2 * (2 - a) * (k0 + c0) + 4 * (1 - a) * k0
        root = np.sqrt(quad_b**2 - 4 * quad_a * a**2)
        u_hi = (-quad_b + root) / (2 * quad_a)
        u_lo = (-quad_b - root) / (2 * quad_a)
        band_low = np.where(u_hi > 0, 1 / np.sqrt(u_hi), np.nan)
        band_high = np.where(u_lo > 0, 1 / np.sqrt(u_lo), np.where(u_hi > 0, np.inf, np.nan))
        s2 = (c0 + (2 - a) * k0) / (2 * (2 - a))
        divergence = np.where((a < 2) & (s2 > 0), np.sqrt(s2), np.nan)
    return band_low, band_high, divergence


def closed_form_boundaries(ds, num: int = 400):
    """Closed-form boundaries of theory section 5 over a ``(sigma, lam)`` isolated diagram.

    Alternating GDA (``d_steps = 1``, fixed learning rates and weights): the edges of
    the complex-pair band and the divergence line of :func:`pair_boundaries`; at
    ``delta = p - n q = 0`` also the best regularization ``eta_d lam* = 1 - (1 - sqrt c)^2``
    for ``c = eta_d eta_g n q^2 / sigma^2 < 1`` (:func:`kernelgda.isolated.best_lam`), and
    the band is then the window of bandwidths reaching the best rate ``sqrt(1 - eta_d lam)``
    (:func:`kernelgda.isolated.best_sigma_window`).

    Returns
    -------
    (dict or None, str)
        Curves ``{"lam", "band_low", "band_high", "divergence", "sigma", "best_lam"}``
        (arrays over a fine grid spanning the axes; ``best_lam`` only at ``delta = 0``)
        and a note; ``None`` with the reason when the diagram is not of that kind.
    """
    dims = tuple(ds.regime.dims)
    at = ds.attrs
    if at.get("prediction") != "isolated" or set(dims) != {"sigma", "lam"}:
        return None, "closed-form boundaries are drawn for isolated (sigma, lam) diagrams only"
    mode = at.get("mode", at.get(NETCDF_MODE, "alternating"))  # NETCDF_MODE: read from a file
    if mode != "alternating" or at.get("d_steps", 1) != 1:
        return None, "closed-form boundaries are those of alternating GDA (d_steps = 1)"
    if not all(k in at for k in ("eta_d", "eta_g", "p", "q", "n")):
        return None, "closed-form boundaries need fixed eta_d, eta_g, p, q and n"
    p, q, n, eta_d, eta_g = (float(at[k]) for k in ("p", "q", "n", "eta_d", "eta_g"))

    def fine(name):
        values = ds[name].values.astype(float)
        lo, hi = float(values.min()), float(values.max())
        if ds[name].attrs.get("scale") == "log":
            return np.geomspace(lo, hi, num)
        return np.linspace(lo, hi, num)

    lam, sigma = fine("lam"), fine("sigma")
    band_low, band_high, divergence = pair_boundaries(p=p, q=q, n=n, eta_d=eta_d, eta_g=eta_g, lam=lam)
    curves = {"lam": lam, "band_low": band_low, "band_high": band_high, "divergence": divergence,
              "sigma": sigma}
    if p != n * q:
        return curves, (f"complex-pair band and divergence line of theory section 5 (alternating, "
                        f"delta = {p - n * q:g}); best lam and best-sigma window exist at delta = 0 only")
    with np.errstate(invalid="ignore"):
        c = isolated.coupling(q=q, n=n, eta_d=eta_d, eta_g=eta_g, sigma=sigma)
        curves["best_lam"] = isolated.best_lam(c, eta_d)
    return curves, "closed forms of theory section 5 (alternating, delta = 0)"
