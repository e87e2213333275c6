"""Closed-form rates through the generator tangent kernel (theory section 12).

For identical isolated clusters (each true point with one generated point, equal ``p``, ``q``,
one bandwidth) every block of the linearization is a multiple of the identity over clusters, so
the map commutes with the generator tangent kernel ``Theta = J J^T`` and splits into one
section-5 system per eigenvalue ``theta_i`` of ``Theta``, with ``eta_g -> eta_g theta_i``
(so ``c -> c theta_i``). The generator-visible rate is the largest of those rates
(:func:`eigenvalues`). Alternating, matched mass: inside the complex band
``(1 - s)^2 < c < (1 + s)^2`` (``s = sqrt(1 - eta_d lam)``) every pair has modulus ``s``, so the
best rate over ``eta_g`` is ``s`` for every condition number of ``Theta`` up to
:func:`band_ratio` ``= ((1 + s) / (1 - s))^2`` and ``1 - rate`` falls like ``1 / kappa`` beyond it
(:func:`best_rate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as V
from . import isolated

__all__ = ["GeneratorRates", "eigenvalues", "band_ratio", "best_rate", "RANGE_TOL"]

#: Eigenvalues of ``Theta`` below ``RANGE_TOL`` times the largest are its null space: those
#: directions move no point (reparametrizations), so they are not generator-visible.
RANGE_TOL = 1e-12


@dataclass(frozen=True)
class GeneratorRates:
    """Rates of the isolated points model through a generator tangent kernel.

    Attributes
    ----------
    theta : (k,) array
        The eigenvalues of ``Theta`` used (its range: zero eigenvalues dropped).
    rates : (..., k) array
        The section-5 generator rate with ``eta_g -> eta_g theta_i``, per eigenvalue.
    generator_rate : (...) array
        ``max_i rates``: the generator-visible rate.
    slowest : (...) int array
        Index into :attr:`theta` of the eigenvalue setting it.
    """

    theta: np.ndarray
    rates: np.ndarray
    generator_rate: np.ndarray
    slowest: np.ndarray


def _spectrum(theta) -> np.ndarray:
    theta = V.array(theta, "theta", nonnegative=True).ravel()
    if theta.size == 0 or theta.max() <= 0:
        raise ValueError("theta must hold at least one positive eigenvalue of the generator tangent kernel")
    return np.sort(theta[theta > RANGE_TOL * theta.max()])


def eigenvalues(theta, *, p=1.0, q=1.0, n=1, eta_d, eta_g, lam, sigma, mode="alternating",
                beta=None, d_steps=None) -> GeneratorRates:
    """Generator-visible rate of identical isolated clusters through ``Theta`` (theory section 12).

    Parameters
    ----------
    theta : (k,) array
        Eigenvalues of the generator tangent kernel ``Theta = J J^T`` (e.g.
        ``np.linalg.eigvalsh(gen.tangent_kernel())``); zero ones (its null space) are dropped.
    p, q, n, eta_d, eta_g, lam, sigma, mode, beta, d_steps
        As in :func:`kernelgda.isolated.eigenvalues`; array arguments broadcast, and the
        eigenvalue axis is appended last.

    Returns
    -------
    GeneratorRates

    Examples
    --------
    >>> r = eigenvalues([1.0, 10.0], eta_d=0.1, eta_g=0.5, lam=0.5, sigma=1.0)
    >>> r.rates.round(6).tolist(), float(r.generator_rate.round(6))
    ([0.974679, 0.974679], 0.974679)
    """
    th = _spectrum(theta)
    eta_g = V.array(eta_g, "eta_g", positive=True)
    res = isolated.eigenvalues(p=np.asarray(p)[..., None], q=np.asarray(q)[..., None],
                               n=np.asarray(n)[..., None], eta_d=np.asarray(eta_d)[..., None],
                               eta_g=eta_g[..., None] * th, lam=np.asarray(lam)[..., None],
                               sigma=np.asarray(sigma)[..., None], mode=mode, beta=beta, d_steps=d_steps)
    rates = np.asarray(res.generator_rate)
    return GeneratorRates(theta=th, rates=rates, generator_rate=rates.max(axis=-1),
                          slowest=rates.argmax(axis=-1))


def band_ratio(eta_d, lam):
    """``((1 + sqrt(1 - a)) / (1 - sqrt(1 - a)))^2`` with ``a = eta_d lam`` in ``(0, 1)``: the largest
    condition number of ``Theta`` whose eigenvalues all fit in the complex band, so that the best
    rate over ``eta_g`` is still ``sqrt(1 - a)`` (theory section 12; about ``16 / a^2``).

    Examples
    --------
    >>> round(float(band_ratio(0.1, 0.5)), 1)
    6082.0
    """
    a = V.array(eta_d, "eta_d", positive=True) * V.array(lam, "lam", positive=True)
    if np.any(a >= 1):
        raise ValueError("band_ratio needs eta_d lam < 1 (there is no complex band otherwise)")
    s = np.sqrt(1 - a)
    return ((1 + s) / (1 - s)) ** 2 if a.ndim else float(((1 + s) / (1 - s)) ** 2)


def best_rate(theta, *, p=1.0, q=1.0, n=1, eta_d, lam, sigma, mode="alternating", beta=None,
              d_steps=None, num: int = 801) -> tuple[float, float]:
    """The learning rate ``eta_g`` that minimizes the generator-visible rate, and that rate.

    A scan of ``num`` values of ``log eta_g`` (coupling ``c theta_max`` from ``1e-8`` to the
    stability edge ``2 (2 - a)`` and a little beyond) followed by a bounded scalar minimization
    around the best one (the rate is piecewise smooth in ``eta_g``). Scalar parameters only.

    Returns
    -------
    (eta_g, rate) : tuple of float

    Examples
    --------
    >>> eta_g, rate = best_rate([1.0, 100.0], eta_d=0.1, lam=0.5, sigma=1.0)
    >>> round(rate, 6)                      # kappa = 100 < band ratio: sqrt(1 - eta_d lam)
    0.974679
    """
    from scipy.optimize import minimize_scalar  # lazy: scipy.optimize costs ~0.15 s to import

    th = _spectrum(theta)
    num = V.integer(num, "num", minimum=16)
    if num > 10**6:
        raise ValueError(f"num must be at most 1e6 (a scan of log eta_g), got {num}")
    scalars = {k: V.scalar(v, k, nonnegative=True) for k, v in
               (("p", p), ("q", q), ("n", n), ("eta_d", eta_d), ("lam", lam), ("sigma", sigma))}
    c_per_eta_g = scalars["eta_d"] * scalars["n"] * scalars["q"] ** 2 / scalars["sigma"] ** 2 * th.max()
    edge = 2 * (2 - scalars["eta_d"] * scalars["lam"])
    grid = np.linspace(np.log(1e-8 / c_per_eta_g), np.log(1.5 * abs(edge) / c_per_eta_g + 1e-300), num)

    def rate(log_eta_g):
        return eigenvalues(th, eta_g=np.exp(log_eta_g), mode=mode, beta=beta, d_steps=d_steps,
                           **scalars).generator_rate

    values = rate(grid)
    i = int(np.nanargmin(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, num - 1)]
    found = minimize_scalar(lambda t: float(rate(t)), bounds=(lo, hi), method="bounded",
                            options={"xatol": 1e-10})
    best = (found.x, float(found.fun)) if found.fun <= values[i] else (grid[i], float(values[i]))
    return float(np.exp(best[0])), best[1]
