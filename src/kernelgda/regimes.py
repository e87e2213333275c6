"""Regime labels of a dominant eigenvalue (theory section 6).

The labels:

===========  ============================================
label        rule
===========  ============================================
monotone     ``|z| < 1 - tol``, ``z`` real and positive
oscillatory  ``|z| < 1 - tol``, ``z`` complex
flipping     ``|z| < 1 - tol``, ``z`` real and negative
neutral      ``|z|`` within ``tol`` of 1, real
cycling      ``|z|`` within ``tol`` of 1, complex
divergent    ``|z| > 1 + tol``
===========  ============================================

``z`` counts as complex when ``|Im z| > tol`` (double real roots computed in
floating point split into pairs with ``|Im z| ~ sqrt(eps) ~ 1e-8``).
"""

from __future__ import annotations

import numpy as np

from . import _validate as V

__all__ = ["REGIMES", "REGIME_CODES", "DEFAULT_TOL", "classify", "classify_codes",
           "COARSE", "TIE_RTOL", "dominant_eigenvalue", "runner_up", "boundary_distance"]

#: Regime labels, in code order.
REGIMES = ("monotone", "oscillatory", "flipping", "neutral", "cycling", "divergent")
REGIME_CODES = {name: i for i, name in enumerate(REGIMES)}
#: The abstract's coarse view: converges / oscillates / diverges.
COARSE = {"monotone": "converges", "oscillatory": "converges", "flipping": "converges",
          "neutral": "neutral", "cycling": "oscillates", "divergent": "diverges"}

#: Default tolerance for eigenvalues computed from a matrix or closed form: far above
#: the ~1e-13 rounding of a few-hundred-dimensional eigensolve, and above the ~1e-8
#: splitting of double roots, yet far below any rate difference worth reporting.
DEFAULT_TOL = 1e-6


def classify_codes(z, tol: float = DEFAULT_TOL) -> np.ndarray:
    """Integer regime codes (indices into :data:`REGIMES`) for an array of eigenvalues.

    ``nan`` eigenvalues give code -1.
    """
    z = V.reals(z, "z", kinds="biufc", dtype=complex)
    tol = V.scalar(tol, "tol", nonnegative=True)
    r = np.abs(z)
    cplx = np.abs(z.imag) > tol
    out = np.where(r > 1 + tol, 5,
                   np.where(r >= 1 - tol, np.where(cplx, 4, 3),
                            np.where(cplx, 1, np.where(z.real >= 0, 0, 2))))
    return np.where(np.isfinite(r), out, -1).astype(np.int8)


def classify(z, tol: float = DEFAULT_TOL):
    """Regime label(s) of dominant eigenvalue(s) ``z``: a str for a scalar, else an array of str.

    Parameters
    ----------
    z : complex or array of complex
        Dominant eigenvalue(s) of a one-step map.
    tol : float
        Tolerance of the unit circle and of the imaginary part (module docstring).

    Returns
    -------
    str or array of str
        Labels from :data:`REGIMES` (theory section 6).

    Examples
    --------
    >>> classify(0.5), classify(-0.5), classify(0.3 + 0.4j), classify(1.2)
    ('monotone', 'flipping', 'oscillatory', 'divergent')
    >>> classify([1.0, 0.6 + 0.8j]).tolist()
    ['neutral', 'cycling']
    """
    codes = classify_codes(z, tol)
    labels = np.array(REGIMES + ("undetermined",))[codes]
    return str(labels) if labels.ndim == 0 else labels


# -- the dominant eigenvalue and its distance to the label boundaries ----------------------

#: Moduli within this relative distance of the largest count as tied for "dominant".
#: Conjugate partners computed by an eigensolver differ in modulus by rounding (~1e-16).
TIE_RTOL = 1e-12


def dominant_eigenvalue(candidates, visible=None):
    """The eigenvalue that sets the generator-visible rate, along the last axis.

    Among the finite (and ``visible``) candidates of largest modulus, moduli within
    :data:`TIE_RTOL` of the largest counting as tied, the one with the largest imaginary
    part (of a conjugate pair the member with ``Im > 0``), then the largest real part
    (of ``r`` and ``-r`` the positive one). ``nan`` where there is no candidate.

    Parameters
    ----------
    candidates : complex array (..., K)
    visible : bool array (..., K), optional
        Which candidates may be chosen (default: all).

    Returns
    -------
    complex array (...) (a Python complex for 1-d input)

    Examples
    --------
    >>> dominant_eigenvalue([0.5, -0.9, 0.9, 0.3 - 0.2j])
    (0.9+0j)
    >>> dominant_eigenvalue([0.6 - 0.8j, 0.6 + 0.8j, 1.0])
    (0.6+0.8j)
    """
    cand = np.asarray(candidates, dtype=complex)
    ok = np.isfinite(cand)
    if visible is not None:
        ok = ok & np.asarray(visible, dtype=bool)
    # Column by column: the last axis is short (a few modes), and elementwise passes over it are
    # several times faster than reductions along it for large grids.
    cols = range(cand.shape[-1])
    with np.errstate(over="ignore"):
        mod = [np.where(ok[..., k], np.abs(cand[..., k]), -np.inf) for k in cols]
    top = mod[0].copy()
    for m in mod[1:]:
        np.maximum(top, m, out=top)
    top *= 1 - TIE_RTOL
    out = np.full(cand.shape[:-1], complex(np.nan, np.nan))
    best_im = np.full(cand.shape[:-1], -np.inf)
    best_re = np.full(cand.shape[:-1], -np.inf)
    for k in cols:  # among the tied, the largest imaginary part, then the largest real part
        z = cand[..., k]
        later = (z.imag > best_im) | ((z.imag == best_im) & (z.real > best_re))
        better = ok[..., k] & (mod[k] >= top) & later
        out = np.where(better, z, out)
        best_im = np.where(better, z.imag, best_im)
        best_re = np.where(better, z.real, best_re)
    return complex(out) if out.ndim == 0 else out


def runner_up(candidates, z):
    """Largest modulus among ``candidates (..., K)`` other than ``z (...)`` and its conjugate.

    Eigenvalues within ``1e-9 max(1, |z|)`` of ``z`` or ``conj(z)`` count as the same mode
    (a conjugate partner, or a copy from the ``d`` dimensions); ``nan`` when none is left.

    Examples
    --------
    >>> float(runner_up([0.5 + 0.1j, 0.5 - 0.1j, -0.2], 0.5 + 0.1j))
    0.2
    """
    cand = np.asarray(candidates, dtype=complex)
    z = np.asarray(z, dtype=complex)[..., None]
    eps = 1e-9 * np.maximum(1.0, np.abs(z))
    with np.errstate(invalid="ignore"):
        other = (np.abs(cand - z) > eps) & (np.abs(cand - np.conj(z)) > eps) & np.isfinite(cand)
        mods = np.where(other, np.abs(cand), -np.inf).max(axis=-1)
    return np.where(np.isfinite(mods), mods, np.nan)


def boundary_distance(z, tol: float = DEFAULT_TOL, runner_up=None):
    """Distance of dominant eigenvalues ``z`` to where their label (theory section 6) changes.

    The minimum of

    - ``| |z| - (1 - tol) |`` and ``| |z| - (1 + tol) |``: the circles that separate
      converging, neutral/cycling and divergent;
    - ``| |Im z| - tol |``: the lines that separate real from complex labels, except for a
      structurally real ``z`` (``Im z == 0`` exactly, as eigensolvers and the closed forms
      return real roots), which can only turn complex by colliding with another real
      eigenvalue: the ``runner_up`` gap below measures that;
    - ``|Re z|`` for ``|Im z| <= tol``: the point 0 that separates monotone from flipping;
    - ``|z| - runner_up``, given the largest modulus ``runner_up`` among the other
      eigenvalues (:func:`runner_up`; ``nan``: none): within it, which mode dominates, and
      so the label, is undecided (and two colliding real roots become a complex pair).

    Examples
    --------
    >>> round(float(boundary_distance(0.5 + 0.3j, 1e-3)), 6)
    0.299
    >>> round(float(boundary_distance(0.5 + 0.3j, 1e-3, runner_up=0.55)), 6)
    0.033095
    >>> round(float(boundary_distance(-0.6, 1e-3)), 6)
    0.399
    """
    z = np.asarray(z, dtype=complex)
    r, im = np.abs(z), np.abs(z.imag)
    with np.errstate(invalid="ignore"):
        parts = [np.abs(r - (1 - tol)), np.abs(r - (1 + tol)),
                 np.where(im > 0, np.abs(im - tol), np.inf),
                 np.where(im <= tol, np.abs(z.real), np.inf)]
        if runner_up is not None:
            gap = r - np.asarray(runner_up, dtype=float)
            parts.append(np.where(np.isnan(gap), np.inf, np.maximum(gap, 0.0)))
        return np.minimum.reduce(parts)
