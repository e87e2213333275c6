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

from .regimes import DEFAULT_TOL, REGIMES, classify_codes, dominant_eigenvalue

__all__ = ["IsolatedEigenvalues", "eigenvalues", "model_parameters", "coupling", "oscillation_band",
           "divergence_threshold", "divergence_sigma", "best_lam", "best_rate",
           "best_sigma_window", "critical_damping_lam", "lone_point_repelled",
           "regime_boundaries_c", "field_eigenvalues"]


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


#: A mass mismatch ``|p - n q| <= MISMATCH_TOL (p + n q)`` counts as exactly zero, so that
#: ``q = p / n`` computed in floating point still gives ``delta = 0`` (needed for ``lam = 0``).
MISMATCH_TOL = 1e-12


def _mismatch(p, q, n):
    delta = p - n * q
    return np.where(np.abs(delta) <= MISMATCH_TOL * (p + n * q), 0.0, delta)


def _rule_options(mode, beta, d_steps):
    from .rules import RULES

    if mode not in RULES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, RULES))}; got {mode!r}")
    if beta is not None and mode != "momentum":
        raise ValueError(f"beta applies to mode='momentum' only, not {mode!r}")
    if d_steps is not None and mode != "alternating":
        raise ValueError(f"d_steps applies to mode='alternating' only, not {mode!r}")
    beta = 0.0 if beta is None else float(beta)
    if not -1 < beta < 1:
        raise ValueError(f"beta must be in (-1, 1), got {beta}")
    if d_steps is None:
        d_steps = 1
    if isinstance(d_steps, bool) or not float(d_steps).is_integer() or d_steps < 1:
        raise ValueError(f"d_steps must be an integer >= 1, got {d_steps!r}")
    return beta, int(d_steps)


def model_parameters(*, p, q, n, eta_d, eta_g, lam, sigma):
    """Validate and broadcast the model's parameters; return ``(n, a, kappa, c)`` (section 5).

    ``a = eta_d lam``, ``kappa = eta_g q gamma delta / lam`` (0 for ``lam = delta = 0``,
    ``nan`` for ``lam = 0`` with a mismatch: no fixed point), ``c = eta_d eta_g gamma n q^2``.
    """
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
    delta = _mismatch(p, q, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(lam > 0, eta_g * q * gamma * delta / np.where(lam > 0, lam, 1.0),
                         np.where(delta == 0, 0.0, np.nan))
    return n, eta_d * lam, kappa, eta_d * eta_g * gamma * n * q**2


def eigenvalues(*, p=1.0, q=1.0, n=1, eta_d, eta_g, lam, sigma, mode="alternating",
                beta=None, d_steps=None, tol=DEFAULT_TOL) -> IsolatedEigenvalues:
    """Eigenvalues of the isolated points model (theory sections 5 and 8), broadcast over all arguments.

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
    mode : {"alternating", "simultaneous", "extragradient", "optimistic", "momentum"}
    beta : float in (-1, 1), optional
        Momentum coefficient (``mode="momentum"`` only; default 0).
    d_steps : int >= 1, optional
        Discriminator steps per generator step (``mode="alternating"`` only; default 1).
    tol : float
        Regime tolerance (theory section 6).

    Returns
    -------
    IsolatedEigenvalues
        ``rho_c`` holds the eigenvalues of the coupled pair: 2 of them, or 4 for
        optimistic and momentum (two step roots per field eigenvalue); ``rho_b``
        likewise holds one or two values per cell in its last axis for those two
        rules.

    Notes
    -----
    Alternating with ``d_steps = k``: the pair is the 2 x 2 matrix
    ``S_G S_D^k`` with ``tr = (1-a)^k + 1 - kappa - c s_k``,
    ``det = (1-a)^k (1 - kappa)``, ``s_k = sum_{i<k} (1-a)^i``; the discriminator
    modes are ``(1-a)^k`` and the spread modes ``1 - kappa``. Simultaneous,
    extragradient, optimistic and momentum map the field eigenvalues ``mu``
    (``-kappa`` for the spread modes, the roots of
    ``mu^2 + (a + kappa) mu + (a kappa + c) = 0`` for the pair, ``-a`` for the
    discriminator) through :func:`kernelgda.rules.z_of_mu`.

    Examples
    --------
    >>> r = eigenvalues(p=1.0, q=1.0, n=1, eta_d=0.1, eta_g=0.1, lam=0.0, sigma=1.0)
    >>> float(np.round(r.generator_rate, 12)), r.regime
    (1.0, 'cycling')
    """
    from .rules import z_of_mu

    beta, d_steps = _rule_options(mode, beta, d_steps)
    n, a, kappa, c = model_parameters(p=p, q=q, n=n, eta_d=eta_d, eta_g=eta_g, lam=lam, sigma=sigma)

    def pair_roots(tr, det):
        disc = np.sqrt((tr * tr - 4 * det).astype(complex))
        return np.stack([(tr + disc) / 2, (tr - disc) / 2], axis=-1)

    if mode == "alternating":
        dk = (1 - a) ** d_steps
        with np.errstate(divide="ignore", invalid="ignore"):
            s_k = np.where(a > 0, (1 - dk) / np.where(a > 0, a, 1.0), float(d_steps))
        rho_c = pair_roots(dk + 1 - kappa - c * s_k, dk * (1 - kappa))
        rho_a = dk
        rho_b = (1 - kappa)[..., None].astype(complex)
    else:
        mu_pair = pair_roots(-(a + kappa), a * kappa + c)  # roots of mu^2 + (a+kappa) mu + (a kappa + c)
        rho_c = z_of_mu(mu_pair, mode, beta).reshape(mu_pair.shape[:-1] + (-1,))
        rho_b = z_of_mu(-kappa, mode, beta)
        rho_a = np.abs(z_of_mu(-a, mode, beta)).max(axis=-1)
    rho_b = np.where((n > 1)[..., None], rho_b, np.nan)
    if rho_b.shape[-1] == 1:
        rho_b_out = rho_b[..., 0].real if mode in ("alternating", "simultaneous", "extragradient") \
            else rho_b[..., 0]
    else:
        rho_b_out = rho_b

    # Dominant: the eigenvalue of largest modulus among the pair and the spread modes, with
    # the tie rule of kernelgda.regimes.dominant_eigenvalue (the same as the general Jacobian).
    spread = np.broadcast_to(rho_b, rho_c.shape[:-1] + rho_b.shape[-1:])
    dominant = np.asarray(dominant_eigenvalue(np.concatenate([rho_c, spread], axis=-1)))
    generator_rate = np.abs(dominant)
    spectral_radius = np.maximum(generator_rate, np.abs(rho_a))
    code = classify_codes(dominant, tol)
    return IsolatedEigenvalues(rho_a=rho_a, rho_b=rho_b_out, rho_c=rho_c,
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
    # nan kappa (lam = 0 with a mass mismatch: no fixed point) gives nan, like eigenvalues().
    return (2 - np.asarray(a, dtype=float)) * (2 - np.asarray(kappa, dtype=float))


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


# -- field eigenvalues (theory section 8) ---------------------------------------------------

def field_eigenvalues(*, p=1.0, q=1.0, n=1, eta_d, eta_g, lam, sigma) -> np.ndarray:
    """Eigenvalues ``mu`` of the linearized field ``M = D A`` in closed form (theory section 8).

    Broadcast like :func:`eigenvalues`; returns shape ``(..., 3)``: the two roots of
    ``mu^2 + (a + kappa) mu + (a kappa + c) = 0`` and the spread mode ``-kappa`` (``nan``
    where ``n = 1``). :func:`kernelgda.linearize.field_eigenvalues` computes them at any
    fixed point.

    Examples
    --------
    >>> mu = field_eigenvalues(p=1.0, q=1.0, n=1, eta_d=0.1, eta_g=0.1, lam=0.0, sigma=1.0)
    >>> np.round(mu[:2].imag, 6).tolist(), bool(np.all(mu[:2].real == 0))
    ([0.1, -0.1], True)
    """
    n, a, kappa, c = model_parameters(p=p, q=q, n=n, eta_d=eta_d, eta_g=eta_g, lam=lam, sigma=sigma)
    b, cc = a + kappa, a * kappa + c
    disc = np.sqrt((b * b - 4 * cc).astype(complex))
    spread = np.where(n > 1, -kappa, np.nan).astype(complex)
    return np.stack(np.broadcast_arrays((-b + disc) / 2, (-b - disc) / 2, spread), axis=-1)
