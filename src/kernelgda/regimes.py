"""Regime labels of a dominant eigenvalue (theory section 6).

| label         | rule                                              |
|---------------|---------------------------------------------------|
| monotone      | ``|z| < 1 - tol``, ``z`` real and positive        |
| oscillatory   | ``|z| < 1 - tol``, ``z`` complex                  |
| flipping      | ``|z| < 1 - tol``, ``z`` real and negative        |
| neutral       | ``|z|`` within ``tol`` of 1, real                 |
| cycling       | ``|z|`` within ``tol`` of 1, complex              |
| divergent     | ``|z| > 1 + tol``                                 |

``z`` counts as complex when ``|Im z| > tol`` (double real roots computed in
floating point split into pairs with ``|Im z| ~ sqrt(eps) ~ 1e-8``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["REGIMES", "REGIME_CODES", "DEFAULT_TOL", "classify", "classify_codes",
           "COARSE"]

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
    z = np.asarray(z, dtype=complex)
    r = np.abs(z)
    cplx = np.abs(z.imag) > tol
    out = np.where(r > 1 + tol, 5,
                   np.where(r >= 1 - tol, np.where(cplx, 4, 3),
                            np.where(cplx, 1, np.where(z.real >= 0, 0, 2))))
    return np.where(np.isfinite(r), out, -1).astype(np.int8)


def classify(z, tol: float = DEFAULT_TOL):
    """Regime label(s) of dominant eigenvalue(s) ``z``: a str for a scalar, else an array of str."""
    codes = classify_codes(z, tol)
    labels = np.array(REGIMES + ("undetermined",))[codes]
    return str(labels) if labels.ndim == 0 else labels
