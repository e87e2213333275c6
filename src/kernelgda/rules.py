"""Update rules beyond plain GDA: step matrices, mu-to-z maps, stability regions (theory section 8).

On the reduced state ``(B, e)`` the GDA field is linear, ``F ~ A z`` with

    A = [ -lam I   -C Q ]        D = diag(eta_d I, eta_g I),   M = D A
        [  Q Pb     Q H ]

and each rule's step matrix is a polynomial or companion form in ``M``:

| rule          | step matrix                              | state            |
|---------------|------------------------------------------|------------------|
| simultaneous  | ``I + M``                                | ``z``            |
| d_steps = k   | ``S_G S_D^k``                            | ``z``            |
| extragradient | ``I + M + M^2``                          | ``z``            |
| optimistic    | ``[[I + 2M, -M], [I, 0]]``               | ``(z_k, z_k-1)`` |
| momentum      | ``[[I + M, beta I], [M, beta I]]``       | ``(z, D v)``     |

For simultaneous, extragradient, optimistic and momentum every eigenvalue ``z``
of the step is a root of a polynomial in ``z`` whose coefficients depend on one
eigenvalue ``mu`` of ``M``:

    simultaneous:  z = 1 + mu
    extragradient: z = 1 + mu + mu^2
    optimistic:    z^2 - (1 + 2 mu) z + mu = 0
    momentum:      z^2 - (1 + mu + beta) z + beta = 0

so each rule has a stability region in the complex ``mu``-plane.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RULES", "MU_RULES", "z_of_mu", "stability_region", "in_stability_region",
           "step_matrix", "field_matrix", "num_delays", "state_copies"]

#: Every update rule (``GDA.mode``).
RULES = ("simultaneous", "alternating", "extragradient", "optimistic", "momentum")
#: Rules whose eigenvalues are functions of the field eigenvalues ``mu`` alone.
MU_RULES = ("simultaneous", "extragradient", "optimistic", "momentum")


def _check_rule(mode, beta):
    if mode not in RULES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, RULES))}; got {mode!r}")
    if not -1 < beta < 1:
        raise ValueError(f"beta must be in (-1, 1), got {beta}")


def num_delays(mode: str) -> int:
    """Delays ``r`` needed to measure eigenvalues from a run (theory section 8): 4 for
    optimistic and momentum (augmented state), else 2."""
    return 4 if mode in ("optimistic", "momentum") else 2


def state_copies(mode: str) -> int:
    """How many copies of the reduced state ``(B, e)`` the rule's linear state holds."""
    return 2 if mode in ("optimistic", "momentum") else 1


def z_of_mu(mu, mode: str, beta: float = 0.0) -> np.ndarray:
    """Step eigenvalues for field eigenvalues ``mu`` (theory section 8).

    Returns a complex array of shape ``mu.shape + (r,)`` with ``r = 1`` for
    simultaneous and extragradient and ``r = 2`` (both roots, larger modulus first)
    for optimistic and momentum.

    Examples
    --------
    >>> complex(z_of_mu(-0.5, "extragradient")[0])
    (0.75+0j)
    """
    _check_rule(mode, beta)
    if mode not in MU_RULES:
        raise ValueError(f"the {mode!r} rule is not a function of the field eigenvalues mu alone; "
                         f"use one of {', '.join(MU_RULES)}")
    mu = np.asarray(mu, dtype=complex)
    if mode == "simultaneous":
        return (1 + mu)[..., None]
    if mode == "extragradient":
        return (1 + mu + mu * mu)[..., None]
    if mode == "optimistic":
        b, c = -(1 + 2 * mu), mu
    else:
        b, c = -(1 + mu + beta), beta * np.ones_like(mu)
    disc = np.sqrt(b * b - 4 * c)
    roots = np.stack([(-b + disc) / 2, (-b - disc) / 2], axis=-1)
    swap = np.abs(roots[..., 1]) > np.abs(roots[..., 0])
    return np.where(swap[..., None], roots[..., ::-1], roots)


def in_stability_region(mu, mode: str, beta: float = 0.0) -> np.ndarray:
    """Whether every step eigenvalue for ``mu`` has modulus below one."""
    return np.abs(z_of_mu(mu, mode, beta)).max(axis=-1) < 1


def stability_region(mode: str, beta: float = 0.0, num: int = 2001) -> list[np.ndarray]:
    """Boundary of the rule's stability region in the complex ``mu``-plane.

    Root locus: ``mu`` such that one step eigenvalue is ``z = exp(i theta)``,
    keeping only the points where the other root (if any) has modulus ``<= 1``.

    Returns
    -------
    list of complex arrays
        Closed or open curves (``nan`` separates pieces within a curve).

    Examples
    --------
    >>> curve = stability_region("simultaneous")[0]
    >>> bool(np.allclose(np.abs(curve + 1), 1))
    True
    """
    _check_rule(mode, beta)
    if mode not in MU_RULES:
        raise ValueError(f"the {mode!r} rule has no stability region in the mu-plane; "
                         f"use one of {', '.join(MU_RULES)}")
    z = np.exp(1j * np.linspace(0, 2 * np.pi, num))
    if mode == "simultaneous":
        return [z - 1]
    if mode == "extragradient":
        root = np.sqrt(4 * z - 3 + 0j)
        return [(-1 + root) / 2, (-1 - root) / 2]
    if mode == "optimistic":
        with np.errstate(divide="ignore", invalid="ignore"):
            mu = z * (1 - z) / (1 - 2 * z)
        other = np.abs(mu)  # product of the roots is mu, so the other root has modulus |mu|
    else:
        mu = z + beta / z - 1 - beta
        other = np.full(z.shape, abs(beta))
    mu = np.where(other <= 1 + 1e-12, mu, np.nan + 0j)
    return [mu]


def field_matrix(lam: float, eta_d: float, eta_g: float, blocks: dict) -> np.ndarray:
    """``M = D A`` on the reduced state (theory section 8)."""
    C, H, Q, Pb = blocks["C"], blocks["H"], blocks["Q"], blocks["Pb"]
    ld = C.shape[0]
    A = np.vstack([np.hstack([-lam * np.eye(ld), -C @ Q]), np.hstack([Q @ Pb, Q @ H])])
    d = np.concatenate([np.full(ld, eta_d), np.full(Q.shape[0], eta_g)])
    return d[:, None] * A


def step_matrix(lam: float, eta_d: float, eta_g: float, blocks: dict, mode: str, *,
                beta: float = 0.0, d_steps: int = 1) -> np.ndarray:
    """The rule's Jacobian on its linear state (theory section 8, second table)."""
    _check_rule(mode, beta)
    M = field_matrix(lam, eta_d, eta_g, blocks)
    size = M.shape[0]
    ld = blocks["C"].shape[0]
    eye = np.eye(size)
    if mode == "simultaneous":
        return eye + M
    if mode == "alternating":
        s_d = eye.copy()
        s_d[:ld] += M[:ld]  # discriminator rows of I + M, e frozen
        s_g = eye.copy()
        s_g[ld:] += M[ld:]  # generator rows of I + M, current B
        return s_g @ np.linalg.matrix_power(s_d, d_steps)
    if mode == "extragradient":
        return eye + M + M @ M
    zero = np.zeros_like(M)
    if mode == "optimistic":
        return np.block([[eye + 2 * M, -M], [eye, zero]])
    return np.block([[eye + M, beta * eye], [M, beta * eye]])
