"""Closed forms of the isolated points model, vectorized over parameter arrays (theory section 5).

One true point with weight ``p``, ``n`` generated points on it with weight ``q``
each, mass mismatch ``delta = p - n q``, curvature ``gamma = 1 / sigma^2``.
With ``a = eta_d lam``, ``kappa = eta_g q gamma delta / lam`` and
``c = eta_d eta_g gamma n q^2`` the eigenvalues (each ``d`` times) are

- discriminator modes ``rho_a = 1 - a`` (not seen by the generator),
- spread modes ``rho_b = 1 - kappa`` (``n - 1`` of them),
- the coupled pair, roots of ``z^2 - tr z + det = 0`` with
  alternating ``tr = 2 - a - kappa - c``, ``det = (1 - a)(1 - kappa)`` and
  simultaneous ``tr = 2 - a - kappa``, ``det = (1 - a)(1 - kappa) + c``.

Every function broadcasts over NumPy arrays. With ``lam = 0`` the model needs
``delta = 0`` (then ``kappa = 0``); cells with ``lam = 0`` and ``delta != 0`` have no
fixed point and give ``nan``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .regimes import DEFAULT_TOL, REGIMES, classify_codes

__all__ = ["IsolatedEigenvalues", "eigenvalues", "coupling", "oscillation_band",
           "divergence_threshold", "divergence_sigma", "best_lam", "best_rate",
           "best_sigma_window", "critical_damping_lam", "lone_point_repelled",
           "regime_boundaries_c"]


def _arr(x, name):
    a = np.asarray(x, dtype=float)
    if np.any(np.isnan(a)):
        raise ValueError(f"{name} must not contain NaN")
    return a


def _check(name, x, *, positive=False, nonnegative=False):
    a = _arr(x, name)
    if np.any(~np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    if positive and np.any(a <= 0):
        raise ValueError(f"{name} must be > 0")
    if nonnegative and np.any(a < 0):
        raise ValueError(f"{name} must be >= 0")
    return a


@dataclass(frozen=True)
class IsolatedEigenvalues:
    """Closed-form spectrum of the isolated points model, broadcast over the parameters.

    Attributes
    ----------
    rho_a : float array
        Discriminator modes ``1 - eta_d lam``.
    rho_b : float array
        Spread modes ``1 - kappa`` (``nan`` where ``n = 1``: there are none).
    rho_c : complex array, shape ``(..., 2)``
        The coupled pair, ``(tr + sqrt(tr^2 - 4 det)) / 2`` first.
    generator_rate : float array
        Largest modulus among ``rho_b`` and ``rho_c``.
    spectral_radius : float array
        ``max(generator_rate, |rho_a|)``.
    dominant : complex array
        The eigenvalue setting ``generator_rate``.
    regime_code : int8 array
        Index into :data:`~kernelgda.regimes.REGIMES` (-1 where undefined).
    """

    rho_a: np.ndarray
    rho_b: np.ndarray
    rho_c: np.ndarray
    generator_rate: np.ndarray
    spectral_radius: np.ndarray
    dominant: np.ndarray
    regime_code: np.ndarray

    @property
    def regime(self):
        """Regime labels (an array of str, or a str for scalar input)."""
        labels = np.array(REGIMES + ("undetermined",))[self.regime_code]
        return str(labels) if labels.ndim == 0 else labels


def coupling(*, q, n, eta_d, eta_g, sigma):
    """``c = eta_d eta_g n q^2 / sigma^2``, the coupling of the alternating pair."""
    return eta_d * eta_g * n * np.square(q) / np.square(sigma)


def eigenvalues(*, p=1.0, q=1.0, n=1, eta_d, eta_g, lam, sigma, mode="alternating",
                tol=DEFAULT_TOL) -> IsolatedEigenvalues:
    """Eigenvalues of the isolated points model (theory section 5), broadcast over all arguments.

    Parameters
    ----------
    p : array_like, ``>= 0``
        True weight (``p = 0``: a lone generated point far from every true point).
    q : array_like, ``> 0``
        Weight of each generated point.
    n : array_like of int, ``>= 1``
        Number of generated points on the true point.
    eta_d, eta_g : array_like, ``> 0``
        Learning rates.
    lam : array_like, ``>= 0``
        Regularization.
    sigma : array_like, ``> 0``
        Bandwidth (``gamma = 1 / sigma^2``, Gaussian or rational quadratic kernel).
    mode : {"alternating", "simultaneous"}
    tol : float
        Regime tolerance (theory section 6).

    Returns
    -------
    IsolatedEigenvalues

    Examples
    --------
    >>> r = eigenvalues(p=1.0, q=1.0, n=1, eta_d=0.1, eta_g=0.1, lam=0.0, sigma=1.0)
    >>> float(np.round(r.generator_rate, 12)), r.regime
    (1.0, 'cycling')
    """
    if mode not in ("alternating", "simultaneous"):
        raise ValueError(f"mode must be 'alternating' or 'simultaneous', got {mode!r}")
    p = _check("p", p, nonnegative=True)
    q = _check("q", q, positive=True)
    n = _check("n", n, positive=True)
    if np.any(n != np.round(n)):
        raise ValueError("n must be a whole number >= 1")
    eta_d = _check("eta_d", eta_d, positive=True)
    eta_g = _check("eta_g", eta_g, positive=True)
    lam = _check("lam", lam, nonnegative=True)
    sigma = _check("sigma", sigma, positive=True)
    p, q, n, eta_d, eta_g, lam, sigma = np.broadcast_arrays(p, q, n, eta_d, eta_g, lam, sigma)

    gamma = 1.0 / sigma**2
    delta = p - n * q
    a = eta_d * lam
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(lam > 0, eta_g * q * gamma * delta / np.where(lam > 0, lam, 1.0),
                         np.where(delta == 0, 0.0, np.nan))
    c = eta_d * eta_g * gamma * n * q**2
    if mode == "alternating":
        tr = 2 - a - kappa - c
        det = (1 - a) * (1 - kappa)
    else:
        tr = 2 - a - kappa
        det = (1 - a) * (1 - kappa) + c
    disc = np.sqrt((tr * tr - 4 * det).astype(complex))
    rho_c = np.stack([(tr + disc) / 2, (tr - disc) / 2], axis=-1)
    rho_a = 1 - a
    rho_b = np.where(n > 1, 1 - kappa, np.nan)

    # Dominant: the pair member of largest modulus (Im > 0 of a complex pair), unless a
    # spread mode is strictly larger.
    mod_c = np.abs(rho_c)
    first = mod_c[..., 0] >= mod_c[..., 1]
    dom_c = np.where(first, rho_c[..., 0], rho_c[..., 1])
    dom_c = np.where(dom_c.imag < 0, np.conj(dom_c), dom_c)
    rate_c = np.abs(dom_c)
    spread_wins = np.abs(np.nan_to_num(rho_b, nan=-np.inf)) > rate_c * (1 + 1e-12)
    spread_wins &= n > 1
    dominant = np.where(spread_wins, rho_b.astype(complex), dom_c)
    generator_rate = np.abs(dominant)
    spectral_radius = np.maximum(generator_rate, np.abs(rho_a))
    code = classify_codes(dominant, tol)
    return IsolatedEigenvalues(rho_a=rho_a, rho_b=rho_b, rho_c=rho_c,
                               generator_rate=generator_rate, spectral_radius=spectral_radius,
                               dominant=dominant, regime_code=code)


# -- boundaries (theory section 5), alternating updates ---------------------------------

def oscillation_band(a):
    """Complex-pair band ``(c_lo, c_hi) = ((1 - sqrt(1-a))^2, (1 + sqrt(1-a))^2)`` in ``c``,
    alternating, ``delta = 0``, ``a = eta_d lam`` in ``[0, 1]``."""
    a = _arr(a, "a")
    s = np.sqrt(1 - a)
    return (1 - s) ** 2, (1 + s) ** 2


def divergence_threshold(a, kappa=0.0):
    """Alternating divergence through ``-1``: ``c > (2 - a)(2 - kappa)`` (``2 (2 - a)`` at ``delta = 0``)."""
    return (2 - _arr(a, "a")) * (2 - _arr(kappa, "kappa"))


def regime_boundaries_c(a):
    """All alternating ``delta = 0`` boundaries in ``c`` for ``a = eta_d lam``:
    ``(c_lo, c_hi, c_div)`` with monotone < c_lo < oscillatory < c_hi < flipping < c_div < divergent."""
    lo, hi = oscillation_band(a)
    return lo, hi, divergence_threshold(a)


def divergence_sigma(*, q, n, eta_d, eta_g, lam):
    """Bandwidth below which alternating GDA diverges (``delta = 0``):
    ``sigma < q sqrt(n eta_d eta_g / (2 (2 - eta_d lam)))``."""
    a = eta_d * _arr(lam, "lam")
    return q * np.sqrt(n * eta_d * eta_g / (2 * (2 - a)))


def best_lam(c, eta_d):
    """Best regularization for fixed ``c < 1``: ``eta_d lam* = 1 - (1 - sqrt c)^2``, nan for ``c >= 1``."""
    c = _arr(c, "c")
    with np.errstate(invalid="ignore"):
        return np.where(c < 1, (1 - (1 - np.sqrt(c)) ** 2) / eta_d, np.nan)


def best_rate(c):
    """Rate ``1 - sqrt(c)`` at the best regularization (``c < 1``)."""
    c = _arr(c, "c")
    with np.errstate(invalid="ignore"):
        return np.where(c < 1, 1 - np.sqrt(c), np.nan)


def best_sigma_window(*, q, n, eta_d, eta_g, lam):
    """Window of bandwidths reaching the best rate ``sqrt(1 - eta_d lam)``.

    Alternating, ``delta = 0``:
    ``q sqrt(n eta_d eta_g) / (1 + sqrt(1 - a)) <= sigma <= q sqrt(n eta_d eta_g) / (1 - sqrt(1 - a))``."""
    a = eta_d * _arr(lam, "lam")
    s = np.sqrt(1 - a)
    base = q * np.sqrt(n * eta_d * eta_g)
    with np.errstate(divide="ignore"):
        return base / (1 + s), np.where(s < 1, base / (1 - s), np.inf)


def critical_damping_lam(*, mu, q, p, sigma):
    """Continuous time, ``delta = 0``: critical damping at ``lam* = 2 sqrt(mu q p) / sigma``."""
    return 2 * np.sqrt(mu * q * p) / _arr(sigma, "sigma")


def lone_point_repelled(*, mu, q, lam, sigma, eta_d=None):
    """Whether a lone generated point (``p = 0``, ``n = 1``) is pushed off its own trace:
    ``mu q^2 (1 - eta_d lam) > lam^2 sigma^2`` (continuous time when ``eta_d`` is None:
    ``mu q^2 > lam^2 sigma^2``)."""
    lam = _arr(lam, "lam")
    factor = 1.0 if eta_d is None else 1 - eta_d * lam
    return mu * np.square(q) * factor > lam**2 * np.square(sigma)
