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

Extreme parameters: ``a``, ``kappa``, ``c`` and the quadratic roots are evaluated in
scaled form (mantissa and exponent, power-of-two scaling), so no intermediate result
overflows, underflows to a wrong zero or raises a floating-point warning; the answer is
exact to rounding whenever it lies in the float64 range. Where a true value exceeds
that range the functions raise a one-line ``ValueError`` instead of returning ``inf``
or ``nan`` (the boundary functions return ``inf``, a bound past every float).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as V
from .regimes import DEFAULT_TOL, REGIMES, classify_codes, dominant_eigenvalue

__all__ = ["IsolatedEigenvalues", "eigenvalues", "model_parameters", "mass_mismatch", "coupling",
           "oscillation_band",
           "divergence_threshold", "divergence_sigma", "best_lam", "best_rate",
           "best_sigma_window", "critical_damping_lam", "lone_point_repelled",
           "regime_boundaries_c", "field_eigenvalues"]


def _arr(x, name):
    return V.array(x, name, allow_inf=True)


def _check(name, x, *, positive=False, nonnegative=False):
    return V.array(x, name, positive=positive, nonnegative=nonnegative)


# -- scaled arithmetic: products and roots that overflow only when the result does ----------
# A positive or signed float is split as ``m 2^e`` (np.frexp, 0.5 <= |m| < 1); products add
# exponents, so no intermediate result overflows or underflows; np.ldexp rounds once at the end.

def _scaled(*factors):
    """``prod x_i^k_i`` as a pair ``(m, e)``; ``factors`` holds ``(x, k)`` or ``((m, e), k)``."""
    m, e = np.float64(1.0), np.int64(0)
    for x, k in factors:
        xm, xe = x if isinstance(x, tuple) else np.frexp(x)
        with np.errstate(divide="ignore", invalid="ignore"):  # x = 0 only with k > 0
            m = m * xm**k
        e = e + k * np.asarray(xe, dtype=np.int64)
        m, de = np.frexp(m)
        e = e + de
    return m, e


def _value(pair):
    """The float of a pair ``(m, e)``: +-inf past the float64 range, 0 or subnormal below it."""
    with np.errstate(over="ignore", under="ignore"):
        return np.ldexp(pair[0], np.clip(pair[1], -2200, 2200).astype(np.int32))


def _ordinary(*arrays, bound=2.0**100):
    """Whether every nonzero ``|x|`` lies in ``[1 / bound, bound]``: then plain products of a
    few factors stay far inside the float64 range and the scaled form is not needed."""
    for x in arrays:
        ax = np.abs(x)
        if not np.all((ax == 0) | ((ax >= 1 / bound) & (ax <= bound)) | np.isnan(ax)):
            return False
    return True


def _difference(p, nq):
    """``p - nq`` for ``p >= 0`` and a pair ``nq = (m, e)``, as a pair plus the sum ``p + nq`` on the
    same scale (for the mismatch tolerance)."""
    pm, pe = np.frexp(p)
    big = np.maximum(np.where(pm == 0, nq[1], pe), nq[1])
    with np.errstate(under="ignore"):
        lp = np.ldexp(pm, np.clip(pe - big, -2200, 0).astype(np.int32))
        lq = np.ldexp(nq[0], np.clip(nq[1] - big, -2200, 0).astype(np.int32))
    dm, de = np.frexp(lp - lq)
    return (dm, de + big), (lp + lq, big)


def _quadratic(h, d1, d2, extra=0.0):
    """Roots of ``z^2 - 2 h z + (d1 d2 + extra)``: ``h + sqrt(h^2 - det)`` first, then ``h - sqrt``.

    Scaled by a power of two ``S >= max(|h|, sqrt|d1 d2|, sqrt|extra|)`` (exact), so no
    square overflows; the root nearer zero is ``det / (larger root)`` (no cancellation).
    """
    with np.errstate(over="ignore", under="ignore"):
        size = np.maximum(np.maximum(np.abs(h), np.sqrt(np.abs(d1)) * np.sqrt(np.abs(d2))),
                          np.sqrt(np.abs(extra)))
    if _ordinary(size, bound=2.0**400):  # squares stay within 2^+-800: no scaling needed
        s = None
        hs, dets = h, d1 * d2 + extra
    else:
        _, s = np.frexp(np.where(np.isfinite(size), size, 1.0))
        hs = _value((h, -s))
        dm, de = _scaled((d1, 1), (d2, 1))
        dets = _value((dm, de - 2 * s)) + _value((extra, -2 * s))
    hs, dets = np.broadcast_arrays(hs, dets)
    disc = hs * hs - dets
    root = np.sqrt(np.abs(disc))
    big = hs + np.copysign(root, hs)
    with np.errstate(divide="ignore", invalid="ignore"):
        small = np.asarray(dets / big)
    small[big == 0] = 0.0  # h = det = 0: a double root at 0
    real, up = disc >= 0, hs >= 0
    pair = np.empty(hs.shape + (2,), dtype=complex)
    pair.real[..., 0] = np.where(real, np.where(up, big, small), hs)
    pair.real[..., 1] = np.where(real, np.where(up, small, big), hs)
    pair.imag[..., 0] = np.where(real, 0.0, root)
    pair.imag[..., 1] = -pair.imag[..., 0]
    if s is None:
        return pair
    return _value((pair.real, s[..., None])) + 1j * _value((pair.imag, s[..., None]))


def _refuse_overflow(values, what, verb="exceeds the float64 range (> 1.8e308)"):
    """One-line ``ValueError`` where ``values`` holds an infinity (nan marks "no fixed point")."""
    if np.any(np.isinf(values)):
        raise ValueError(f"{what} {verb} at these parameters; the isolated model cannot be "
                         f"evaluated there (use a larger sigma or lam, or smaller learning rates)")


@dataclass(frozen=True)
class IsolatedEigenvalues:
    """Closed-form spectrum of the isolated points model, broadcast over the parameters.

    Attributes
    ----------
    rho_a : float or complex array
        Discriminator modes, the signed step eigenvalue(s) of the field eigenvalue ``-a``
        (one convention for every rule, never a modulus): ``(1 - a)^k`` alternating with
        ``d_steps = k``, ``1 - a`` simultaneous, ``1 - a + a^2`` extragradient (real arrays);
        optimistic and momentum give both step roots, complex, shape ``(..., 2)``, larger
        modulus first (as ``rho_b``). The sign tells a flipping discriminator (``a > 1``)
        from a monotone one.
    rho_b : float array
        Spread modes ``1 - kappa`` (``nan`` where ``n = 1``: there are none).
    rho_c : complex array, shape ``(..., 2)``
        The coupled pair, ``(tr + sqrt(tr^2 - 4 det)) / 2`` first.
    generator_rate : float array
        Largest modulus among ``rho_b`` and ``rho_c``.
    spectral_radius : float array
        ``max(generator_rate, max |rho_a|)``.
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
    """``c = eta_d eta_g n q^2 / sigma^2``, the coupling of the alternating pair.

    Evaluated in scaled form: ``inf`` only where the true value exceeds the float64 range.
    """
    if _ordinary(q, n, eta_d, eta_g, sigma):
        return eta_d * eta_g * n * np.square(q) / np.square(sigma)
    return _value(_scaled((eta_d, 1), (eta_g, 1), (n, 1), (q, 2), (sigma, -2)))


#: A mass mismatch ``|p - n q| <= MISMATCH_TOL (p + n q)`` counts as exactly zero, so that
#: ``q = p / n`` computed in floating point still gives ``delta = 0`` (needed for ``lam = 0``).
MISMATCH_TOL = 1e-12


def _mismatch_pair(p, q, n):
    diff, total = _difference(p, _scaled((n, 1), (q, 1)))
    zero = np.abs(_value((diff[0], diff[1] - total[1]))) <= MISMATCH_TOL * total[0]  # scale 2^-e
    return np.where(zero, 0.0, diff[0]), diff[1]


def mass_mismatch(*, p, q, n):
    """The mass mismatch ``delta = p - n q`` (theory section 5), 0 within :data:`MISMATCH_TOL`.

    ``-inf`` only where ``n q`` itself exceeds the float64 range.

    Examples
    --------
    >>> float(mass_mismatch(p=1.0, q=0.25, n=4)), float(mass_mismatch(p=1.0, q=0.5, n=1))
    (0.0, 0.5)
    """
    p, q, n = np.broadcast_arrays(_check("p", p, nonnegative=True), _check("q", q, positive=True),
                                  _check("n", n, positive=True))
    if _ordinary(p, q, n):  # n q cannot overflow: the plain difference is exact to rounding
        return _plain_mismatch(p, n * q)
    return _value(_mismatch_pair(p, q, n))


def _plain_mismatch(p, nq):
    """``p - nq``, exactly 0 within :data:`MISMATCH_TOL` ``(p + nq)`` (ordinary magnitudes)."""
    delta = p - nq
    return np.where(np.abs(delta) <= MISMATCH_TOL * (p + nq), 0.0, delta)


def _rule_options(mode, beta, d_steps):
    # None: not given (the rule's default); the checks are the rules registry's.
    from .rules import check_options

    d_steps, beta = check_options(mode, 1 if d_steps is None else d_steps,
                                  0.0 if beta is None else beta)
    return beta, d_steps


#: float64 arrays of the broadcast shape that :func:`eigenvalues` holds at once (a generous
#: count: complex pairs, candidates, moduli, codes), for the memory check.
ARRAYS_PER_CELL = 48


def model_parameters(*, p, q, n, eta_d, eta_g, lam, sigma):
    """Validate and broadcast the model's parameters; return ``(n, a, kappa, c)`` (section 5).

    ``a = eta_d lam``, ``kappa = eta_g q gamma delta / lam`` (0 for ``lam = delta = 0``,
    ``nan`` for ``lam = 0`` with a mismatch: no fixed point), ``c = eta_d eta_g gamma n q^2``,
    each in scaled form; a ``ValueError`` names the one whose value exceeds the float64 range.
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
    V.broadcast_cells("isolated eigenvalues", ARRAYS_PER_CELL,
                      p=p, q=q, n=n, eta_d=eta_d, eta_g=eta_g, lam=lam, sigma=sigma)
    if _ordinary(p, q, n, eta_d, eta_g, lam, sigma):  # every product stays within 2^+-700
        # On the arguments as given (broadcasting happens in the arithmetic, not before it).
        gamma = 1.0 / sigma**2
        nq = n * q
        delta = _plain_mismatch(p, nq)
        with np.errstate(divide="ignore", invalid="ignore"):
            kappa = np.where(lam > 0, eta_g * q * gamma * delta / np.where(lam > 0, lam, 1.0),
                             np.where(delta == 0, 0.0, np.nan))
        return tuple(np.broadcast_arrays(n, eta_d * lam, kappa, eta_d * eta_g * gamma * nq * q))
    p, q, n, eta_d, eta_g, lam, sigma = np.broadcast_arrays(p, q, n, eta_d, eta_g, lam, sigma)
    with np.errstate(over="ignore", under="ignore"):
        a = eta_d * lam
    c = coupling(q=q, n=n, eta_d=eta_d, eta_g=eta_g, sigma=sigma)
    delta = _mismatch_pair(p, q, n)
    positive = lam > 0
    kappa = _value(_scaled((eta_g, 1), (q, 1), (sigma, -2), (delta, 1), (np.where(positive, lam, 1.0), -1)))
    kappa = np.where(positive | (delta[0] == 0), np.where(positive, kappa, 0.0), np.nan)
    _refuse_overflow(a, "a = eta_d lam")
    _refuse_overflow(kappa, "kappa = eta_g q delta / (lam sigma^2)")
    _refuse_overflow(c, "c = eta_d eta_g n q^2 / sigma^2")
    return n, a, kappa, c


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
    tol = float(_check("tol", tol, positive=True)) if np.ndim(tol) == 0 else _check("tol", tol, positive=True)
    n, a, kappa, c = model_parameters(p=p, q=q, n=n, eta_d=eta_d, eta_g=eta_g, lam=lam, sigma=sigma)

    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        if mode == "alternating":
            dk = (1 - a) ** d_steps
            # s_k = sum_{i<k} (1-a)^i = (1 - (1-a)^k) / a; for 0 < a < 1 through expm1/log1p,
            # exact to rounding even where (1-a)^k rounds to 1.
            inside = (a > 0) & (a < 1)
            s_k = np.where(inside, -np.expm1(d_steps * np.log1p(-np.where(inside, a, 0.0)))
                           / np.where(inside, a, 1.0),
                           np.where(a > 0, (1 - dk) / np.where(a > 0, a, 1.0), float(d_steps)))
            half_tr = dk / 2 + 0.5 - kappa / 2 - (c / 2) * s_k
            rho_c = _quadratic(half_tr, dk, 1 - kappa)
            rho_a = dk
            rho_b = (1 - kappa)[..., None].astype(complex)
        else:  # mu^2 + (a + kappa) mu + (a kappa + c) = 0, then the rule's map mu -> z
            mu_pair = _quadratic(-(a / 2 + kappa / 2), a, kappa, c)
            rho_c = z_of_mu(mu_pair, mode, beta).reshape(mu_pair.shape[:-1] + (-1,))
            rho_b = z_of_mu(-kappa, mode, beta)
            rho_a = z_of_mu(-a, mode, beta)
            rho_a = rho_a[..., 0].real if rho_a.shape[-1] == 1 else rho_a
    rho_b = np.where((n > 1)[..., None], rho_b, np.nan)
    if rho_b.shape[-1] == 1:
        rho_b_out = rho_b[..., 0].real if mode in ("alternating", "simultaneous", "extragradient") \
            else rho_b[..., 0]
    else:
        rho_b_out = rho_b

    # Dominant: the eigenvalue of largest modulus among the pair and the spread modes, with
    # the tie rule of kernelgda.regimes.dominant_eigenvalue (the same as the general Jacobian).
    # Spread modes exist only where n > 1 (nan elsewhere, which the tie rule skips).
    if np.any(n > 1):
        spread = np.broadcast_to(rho_b, rho_c.shape[:-1] + rho_b.shape[-1:])
        candidates = np.concatenate([rho_c, spread], axis=-1)
    else:
        candidates = rho_c
    dominant = np.asarray(dominant_eigenvalue(candidates))
    with np.errstate(over="ignore"):
        generator_rate = np.abs(dominant)
        spectral_radius = np.maximum(generator_rate,
                                     np.abs(rho_a).reshape(generator_rate.shape + (-1,)).max(-1))
    # Where a fixed point exists (kappa not nan), every eigenvalue must be finite: an infinity or
    # a nan there means a true eigenvalue beyond the float64 range. The spectral radius covers the
    # moduli of the finite ones (an overflowing modulus is inf there).
    fixed = ~np.isnan(kappa)
    bad = ~(np.isfinite(rho_c).all(-1) & np.isfinite(rho_a).reshape(fixed.shape + (-1,)).all(-1)
            & (np.isfinite(rho_b).all(-1) | (n <= 1)) & np.isfinite(spectral_radius))
    if np.any(bad & fixed):
        if mode == "alternating":
            what, verb = "an eigenvalue of the alternating step", "exceeds the float64 range (> 1.8e308)"
        else:  # rules.z_of_mu squares mu: |mu| beyond ~1e154 overflows there (all rules but simultaneous)
            what = (f"the {mode} step's eigenvalues at field eigenvalues up to "
                    f"|mu| = {np.abs(mu_pair).max():.3g}")
            verb = "overflow float64"
        _refuse_overflow(np.inf, what, verb)
    code = classify_codes(dominant, tol)
    return IsolatedEigenvalues(rho_a=rho_a, rho_b=rho_b_out, rho_c=rho_c,
                               generator_rate=generator_rate, spectral_radius=spectral_radius,
                               dominant=dominant, regime_code=code)


# -- boundaries (theory section 5), alternating updates ---------------------------------

def _sqrt_one_minus(a):
    """``sqrt(1 - a)`` where ``a <= 1``, nan where ``a > 1`` (no warning)."""
    return np.sqrt(np.where(a <= 1, 1 - a, np.nan))


def oscillation_band(a):
    """Complex-pair band ``(c_lo, c_hi) = ((1 - sqrt(1-a))^2, (1 + sqrt(1-a))^2)`` in ``c``,
    alternating, ``delta = 0``, ``a = eta_d lam``; ``nan`` for ``a > 1``, where the pair is real
    for every ``c`` (``det = 1 - a < 0``): no band."""
    a = _arr(a, "a")
    s = _sqrt_one_minus(a)
    return (1 - s) ** 2, (1 + s) ** 2


def divergence_threshold(a, kappa=0.0):
    """Alternating divergence through ``-1``: ``c > (2 - a)(2 - kappa)`` (``2 (2 - a)`` at ``delta = 0``);
    ``+-inf`` where the product exceeds the float64 range."""
    # nan kappa (lam = 0 with a mass mismatch: no fixed point) gives nan, like eigenvalues().
    with np.errstate(over="ignore"):
        return (2 - np.asarray(a, dtype=float)) * (2 - np.asarray(kappa, dtype=float))


def regime_boundaries_c(a):
    """All alternating ``delta = 0`` boundaries in ``c`` for ``a = eta_d lam``:
    ``(c_lo, c_hi, c_div)`` with monotone < c_lo < oscillatory < c_hi < flipping < c_div < divergent."""
    lo, hi = oscillation_band(a)
    return lo, hi, divergence_threshold(a)


def _base_sigma(q, n, eta_d, eta_g):
    """``q sqrt(n eta_d eta_g)`` in scaled form."""
    q, n, eta_d, eta_g = (_arr(v, k) for k, v in (("q", q), ("n", n), ("eta_d", eta_d), ("eta_g", eta_g)))
    return _value(_scaled((q, 1), (np.sqrt(n), 1), (np.sqrt(eta_d), 1), (np.sqrt(eta_g), 1)))


def divergence_sigma(*, q, n, eta_d, eta_g, lam):
    """Bandwidth below which alternating GDA diverges (``delta = 0``):
    ``sigma < q sqrt(n eta_d eta_g / (2 (2 - eta_d lam)))``; ``inf`` for ``eta_d lam >= 2``
    (then it diverges at every bandwidth)."""
    with np.errstate(over="ignore"):
        a = eta_d * _arr(lam, "lam")
    room = np.sqrt(2 * np.where(a < 2, 2 - a, 1.0))
    with np.errstate(over="ignore"):
        return np.where(a < 2, _base_sigma(q, n, eta_d, eta_g) / room, np.inf)


def best_lam(c, eta_d):
    """Best regularization for fixed ``c < 1``: ``eta_d lam* = 1 - (1 - sqrt c)^2``, nan for ``c >= 1``."""
    c = _arr(c, "c")
    root = np.sqrt(np.where(c < 1, c, np.nan))
    with np.errstate(over="ignore"):
        return root * (2 - root) / eta_d  # 1 - (1 - r)^2 = r (2 - r), no cancellation at small c


def best_rate(c):
    """Rate ``1 - sqrt(c)`` at the best regularization (``c < 1``, nan otherwise)."""
    c = _arr(c, "c")
    return 1 - np.sqrt(np.where(c < 1, c, np.nan))


def best_sigma_window(*, q, n, eta_d, eta_g, lam):
    """Window of bandwidths reaching the best rate ``sqrt(1 - eta_d lam)``.

    Alternating, ``delta = 0``:
    ``q sqrt(n eta_d eta_g) / (1 + sqrt(1 - a)) <= sigma <= q sqrt(n eta_d eta_g) / (1 - sqrt(1 - a))``;
    ``(nan, nan)`` for ``a > 1`` (no complex pair, so no such window), ``inf`` upper end at ``a = 0``."""
    with np.errstate(over="ignore"):
        a = eta_d * _arr(lam, "lam")
    s = _sqrt_one_minus(a)
    base = _base_sigma(q, n, eta_d, eta_g)
    with np.errstate(over="ignore", divide="ignore"):
        # 1 / (1 - s) = (1 + s) / a: no cancellation for small a.
        return base / (1 + s), np.where(a > 0, base * ((1 + s) / np.where(a > 0, a, 1.0)), np.inf)


def critical_damping_lam(*, mu=None, q, p, sigma, eta_d=None, eta_g=None):
    """Continuous time, ``delta = 0``: critical damping at ``lam* = 2 sqrt(mu q p) / sigma``.

    Give ``mu = eta_g / eta_d`` or both learning rates (then ``mu`` is never formed, so it
    cannot overflow); the result is ``inf`` only where it exceeds the float64 range."""
    if (mu is None) == (eta_d is None or eta_g is None):
        raise ValueError("critical_damping_lam needs mu or both eta_d and eta_g (not both forms)")
    rates = [(np.sqrt(_arr(mu, "mu")), 1)] if mu is not None else \
        [(np.sqrt(_arr(eta_g, "eta_g")), 1), (np.sqrt(_arr(eta_d, "eta_d")), -1)]
    roots = [(np.sqrt(_arr(q, "q")), 1), (np.sqrt(_arr(p, "p")), 1), (_arr(sigma, "sigma"), -1)]
    return _value(_scaled((2.0, 1), *rates, *roots))


def lone_point_repelled(*, mu, q, lam, sigma, eta_d=None):
    """Whether a lone generated point (``p = 0``, ``n = 1``) is pushed off its own trace:
    ``mu q^2 (1 - eta_d lam) > lam^2 sigma^2`` (continuous time when ``eta_d`` is None:
    ``mu q^2 > lam^2 sigma^2``)."""
    lam = _arr(lam, "lam")
    with np.errstate(over="ignore", invalid="ignore"):  # compares infinities correctly
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
