"""The update rules, each once: options, nonlinear step, step matrix, mu-to-z map (theory section 8).

:data:`REGISTRY` holds one :class:`Rule` per ``GDA.mode``; its :meth:`Rule.step` is the
nonlinear step that :func:`kernelgda.simulate` and :func:`kernelgda.simulate_batch` both run.

On the reduced state ``(B, e)`` the GDA field is linear, ``F ~ A z`` with

    A = [ -lam I   -C Q ]        D = diag(eta_d I, eta_g I),   M = D A
        [  Q Pb     Q H ]

and each rule's step matrix is a polynomial or companion form in ``M``:

=============  ==================================  ================
rule           step matrix                         state
=============  ==================================  ================
simultaneous   ``I + M``                           ``z``
d_steps = k    ``S_G S_D^k``                       ``z``
extragradient  ``I + M + M^2``                     ``z``
optimistic     ``[[I + 2M, -M], [I, 0]]``          ``(z_k, z_k-1)``
momentum       ``[[I + M, beta I], [M, beta I]]``  ``(z, D v)``
=============  ==================================  ================

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

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from . import _validate as V
from .generators.base import POINTS

__all__ = ["Rule", "REGISTRY", "RULES", "MU_RULES", "StepConstants", "get_rule", "check_options",
           "z_of_mu", "stability_region", "in_stability_region", "step_matrix", "field_matrix",
           "num_delays", "state_copies"]


# -- the update rules, each written once (theory sections 2 and 8) --------------------------------
#
# A rule's nonlinear step acts on a discriminator through this interface (implemented by the
# single-run expansions of :mod:`kernelgda.discriminator`, the random features of
# :mod:`kernelgda.features` and the batched discriminators of :mod:`kernelgda.batch`):
#
#   grad(y)               gradient of function 0 (``f``) at the rows of ``y``
#   field_grad(y, z, q)   gradient at ``y`` of the field term ``K(., X) p - K(., z) q`` (not stored)
#   decay(a)              ``f <- a f`` (one function)
#   mix(t)                ``f_i <- sum_j t_ij f_j`` (two functions)
#   add_true(a)           ``f_i += a_i K(., X) p``
#   add_slice(y, w)       ``f_i += K(., y) w[..., i]`` (one new history slice)
#
# Every array carries the same optional leading cell axis: a single run passes scalars and
# ``(n,)`` weights, a batch ``(B, 1)`` per-cell scalars and ``(B, n)`` weights, and the same
# arithmetic serves both.
#
# The generator's state ``s`` is the points themselves for the point model (``gen = POINTS``,
# the identity) or the parameters ``theta`` of a parametric generator (theory section 12).
# A step asks the generator for its points, ``gen.points(s)``, and moves the state by the
# pull-back of the step the rule gives the points, ``s + gen.vjp(s, delta)`` (``J^T delta``;
# ``delta`` itself for the point model, so the point model's arithmetic is unchanged).


@dataclass(frozen=True)
class StepConstants:
    """The numbers a rule's step needs: ``lam``, ``eta_d``, ``eta_g``, ``beta`` (float64
    scalars, or ``(B, 1)`` per-cell columns for a batch), the generated weights ``q``
    (``(n,)`` or ``(B, n)``) and ``d_steps`` (an int shared by the run or the group)."""

    lam: np.ndarray
    eta_d: np.ndarray
    eta_g: np.ndarray
    beta: np.ndarray
    q: np.ndarray
    d_steps: int = 1

    @classmethod
    def make(cls, lam, eta_d, eta_g, beta, q, d_steps: int = 1) -> StepConstants:
        """Scalars stay scalars; per-cell ``(B,)`` arrays become ``(B, 1)`` columns."""
        def col(v):
            v = np.asarray(v, dtype=float)
            return float(v) if v.ndim == 0 else v.reshape(-1, 1)  # Python floats: cheap scalar steps
        return cls(col(lam), col(eta_d), col(eta_g), col(beta), np.asarray(q, dtype=float),
                   int(d_steps))


def _last(v):
    """``v`` with one more trailing axis (a per-cell factor of ``(..., n, d)`` points)."""
    return np.asarray(v)[..., None]


def _funcs(*cols):
    """Per-function amounts stacked on a last axis: ``(F,)`` or ``(B, 1, F)``."""
    return np.stack(np.broadcast_arrays(*cols), axis=-1)


def _pair(t00, t01, t10, t11):
    """The ``2 x 2`` mixing map ``[[t00, t01], [t10, t11]]`` (per cell: ``(B, 1, 2, 2)``)."""
    return np.stack([_funcs(t00, t01), _funcs(t10, t11)], axis=-2)


class Rule:
    """One update rule (theory section 8): its options, its state and its nonlinear step.

    As optax's ``(init, update)``: :meth:`constants` turns :class:`StepConstants` into the
    rule's fixed coefficients once, :meth:`init` gives the explicit step state, and
    :meth:`step` maps ``(state, Y)`` to ``(state', Y')`` while updating the discriminator in
    place (through the interface described above).

    Attributes
    ----------
    name : str
    state_copies : int
        Copies of the reduced state ``(B, e)`` in the rule's linear state (1 or 2); also the
        number of discriminator functions the step keeps.
    uses_beta, uses_d_steps : bool
        Whether the rule takes the option ``beta`` (momentum) or ``d_steps`` (alternating).
    mu_rule : bool
        Whether its step eigenvalues are functions of the field eigenvalues ``mu`` alone.
    """

    name = ""
    state_copies = 1
    uses_beta = False
    uses_d_steps = False
    mu_rule = True

    @property
    def num_delays(self) -> int:
        """Delays ``r`` needed to measure eigenvalues from a run: 2 per state copy."""
        return 2 * self.state_copies

    def check_options(self, d_steps=1, beta=0.0) -> tuple[int, float]:
        """Validated ``(d_steps, beta)``; ``ValueError`` naming the option that does not apply."""
        d_steps = V.integer(d_steps, "d_steps", minimum=1)
        beta = check_beta(beta)
        if d_steps != 1 and not self.uses_d_steps:
            raise ValueError(f"d_steps applies to mode='alternating' only, not {self.name!r}")
        if beta != 0 and not self.uses_beta:
            raise ValueError(f"beta applies to mode='momentum' only, not {self.name!r}")
        return d_steps, beta

    def options(self, d_steps: int, beta: float) -> dict:
        """The options this rule uses, as keyword arguments (``{}``, ``d_steps`` or ``beta``)."""
        return {"d_steps": d_steps} if self.uses_d_steps else {"beta": beta} if self.uses_beta else {}

    def slices_per_step(self, d_steps: int = 1) -> int:
        """History slices one step adds (the first step of optimistic GDA adds one more)."""
        return 1

    def constants(self, c: StepConstants) -> SimpleNamespace:
        """The step's fixed coefficients (computed once per run or group)."""
        raise NotImplementedError

    def init(self, k: SimpleNamespace, disc, s, gen=POINTS):
        """The step state before the first step."""
        return None

    def step(self, k: SimpleNamespace, state, disc, s, gen=POINTS):
        """One step from the generator state ``s`` (the points, or ``theta`` with a parametric
        ``gen``): returns ``(s_new, state_new)`` and updates ``disc`` in place."""
        raise NotImplementedError


class Simultaneous(Rule):
    """``f' = (1 - eta_d lam) f + eta_d (K(., X) p - K(., Y) q)``, ``Y' = Y + eta_g q grad f(Y)``."""

    name = "simultaneous"

    def constants(self, c):
        return SimpleNamespace(decay=1.0 - c.eta_d * c.lam, true=c.eta_d, w=-c.eta_d * c.q,
                               move=_last(c.eta_g * c.q), d_steps=c.d_steps)

    def step(self, k, state, disc, s, gen=POINTS):
        y = gen.points(s)
        g = disc.grad(y)
        disc.decay(k.decay)
        disc.add_true(k.true)
        disc.add_slice(y, k.w)
        return s + gen.vjp(s, k.move * g), state


class Alternating(Simultaneous):
    """``d_steps`` discriminator steps with the current ``Y``, then ``Y' = Y + eta_g q grad f'(Y)``."""

    name = "alternating"
    uses_d_steps = True
    mu_rule = False

    def slices_per_step(self, d_steps=1):
        return d_steps

    def step(self, k, state, disc, s, gen=POINTS):
        y = gen.points(s)
        for _ in range(k.d_steps):
            disc.decay(k.decay)
            disc.add_true(k.true)
            disc.add_slice(y, k.w)
        return s + gen.vjp(s, k.move * disc.grad(y)), state


class Extragradient(Rule):
    """``z_half = z + eta F(z)``, ``z' = z + eta F(z_half)``. With ``a = eta_d lam``:

    ``f_half = (1 - a) f + eta_d (K(., X) p - K(., Y) q)``,
    ``f' = (1 - a + a^2) f + eta_d (1 - a) K(., X) p + a eta_d K(., Y) q - eta_d K(., Y_half) q``,
    ``Y_half = Y + eta_g q grad f(Y)``, ``Y' = Y + eta_g q grad f_half(Y_half)``.
    """

    name = "extragradient"

    def slices_per_step(self, d_steps=1):
        return 2

    def constants(self, c):
        a = c.eta_d * c.lam
        return SimpleNamespace(q=c.q, keep=_last(1 - a), eta_d=_last(c.eta_d),
                               decay=1 - a + a * a, true=c.eta_d * (1 - a), w_y=a * c.eta_d * c.q,
                               w_half=-c.eta_d * c.q, move=_last(c.eta_g * c.q))

    def step(self, k, state, disc, s, gen=POINTS):
        y = gen.points(s)
        s_half = s + gen.vjp(s, k.move * disc.grad(y))
        y_half = gen.points(s_half)
        g_half = k.keep * disc.grad(y_half) + k.eta_d * disc.field_grad(y_half, y, k.q)
        disc.decay(k.decay)
        disc.add_true(k.true)
        disc.add_slice(y, k.w_y)
        disc.add_slice(y_half, k.w_half)
        return s + gen.vjp(s_half, k.move * g_half), state


class Optimistic(Rule):
    """``z' = z + eta (2 F(z_k) - F(z_{k-1}))``, ``F(z_{-1}) = F(z_0)``.

    Functions ``(f, phi)`` with ``phi = F_D(z_{k-1})``, ``F_D(z) = K(., X) p - K(., Y) q - lam f``:
    ``f' = (1 - 2a) f - eta_d phi + 2 eta_d K(., X) p - 2 eta_d K(., Y^k) q`` and
    ``phi' = -lam f + K(., X) p - K(., Y^k) q``; the state ``psi = q grad f^{k-1}(Y^{k-1})``
    (pulled back to ``theta`` by a parametric generator) is the generator's previous direction
    (``None`` before the first step, which sets
    ``phi_0 = F_D(z_0)`` and ``psi_0 = q grad f^0(Y^0)``).
    """

    name = "optimistic"
    state_copies = 2

    def constants(self, c):
        a, zero, one = c.eta_d * c.lam, np.zeros_like(c.lam), np.ones_like(c.lam)
        return SimpleNamespace(
            q=_last(c.q), eta_g=_last(c.eta_g),
            first=_pair(one, zero, -c.lam, zero), first_true=_funcs(zero, one),
            first_w=_funcs(np.zeros_like(c.q), -c.q),
            mixing=_pair(1 - 2 * a, -c.eta_d, -c.lam, zero), true=_funcs(2 * c.eta_d, one),
            w=_funcs(-2 * c.eta_d * c.q, -c.q))

    def step(self, k, psi, disc, s, gen=POINTS):
        y = gen.points(s)
        g = gen.vjp(s, k.q * disc.grad(y))
        if psi is None:
            disc.mix(k.first)
            disc.add_true(k.first_true)
            disc.add_slice(y, k.first_w)
            psi = g
        disc.mix(k.mixing)
        disc.add_true(k.true)
        disc.add_slice(y, k.w)
        return s + k.eta_g * (2 * g - psi), g


class Momentum(Rule):
    """``v' = beta v + F(z)``, ``z' = z + eta v'``, ``v_0 = 0``. Functions ``(f, v_f)``:

    ``v_f' = beta v_f - lam f + K(., X) p - K(., Y) q``,
    ``f' = (1 - a) f + eta_d beta v_f + eta_d K(., X) p - eta_d K(., Y) q``;
    the state is the generator's velocity ``v``.
    """

    name = "momentum"
    state_copies = 2
    uses_beta = True

    def constants(self, c):
        a, one = c.eta_d * c.lam, np.ones_like(c.lam)
        return SimpleNamespace(q=_last(c.q), eta_g=_last(c.eta_g), beta=_last(c.beta),
                               mixing=_pair(1 - a, c.eta_d * c.beta, -c.lam, c.beta),
                               true=_funcs(c.eta_d, one), w=_funcs(-c.eta_d * c.q, -c.q))

    def init(self, k, disc, s, gen=POINTS):
        return np.zeros_like(s)

    def step(self, k, v, disc, s, gen=POINTS):
        y = gen.points(s)
        v = k.beta * v + gen.vjp(s, k.q * disc.grad(y))
        disc.mix(k.mixing)
        disc.add_true(k.true)
        disc.add_slice(y, k.w)
        return s + k.eta_g * v, v


#: The one registry of update rules (``GDA.mode``), in their canonical order.
REGISTRY = {r.name: r for r in (Simultaneous(), Alternating(), Extragradient(), Optimistic(),
                                 Momentum())}
#: Every update rule's name.
RULES = tuple(REGISTRY)
#: Rules whose eigenvalues are functions of the field eigenvalues ``mu`` alone.
MU_RULES = tuple(name for name, r in REGISTRY.items() if r.mu_rule)


def get_rule(mode: str) -> Rule:
    """The :class:`Rule` called ``mode`` (``ValueError`` naming ``mode`` otherwise).

    Examples
    --------
    >>> rule = get_rule("momentum")
    >>> rule.state_copies, rule.num_delays, rule.uses_beta, get_rule("alternating").uses_d_steps
    (2, 4, True, True)
    """
    rule = REGISTRY.get(mode) if isinstance(mode, str) else None
    if rule is None:
        raise ValueError(f"mode must be one of {', '.join(map(repr, RULES))}; got {mode!r}")
    return rule


#: The rule each rule option applies to (``beta``: momentum, ``d_steps``: alternating).
OPTION_RULES = {"beta": next(name for name, r in REGISTRY.items() if r.uses_beta),
                "d_steps": next(name for name, r in REGISTRY.items() if r.uses_d_steps)}


def check_beta(beta, name: str = "beta") -> float:
    """The momentum ``beta`` as a float in ``(-1, 1)`` (``ValueError`` naming ``name`` otherwise)."""
    beta = V.scalar(beta, name)
    if not -1 < beta < 1:
        raise ValueError(f"{name} must be in (-1, 1), got {beta}")
    return beta


def check_options(mode: str, d_steps=1, beta=0.0) -> tuple[int, float]:
    """Validate a rule and its options: ``(d_steps, beta)`` as int and float.

    The one place where ``beta`` and ``d_steps`` are checked (:meth:`Rule.check_options`);
    ``ValueError`` naming the option that is out of range or does not apply to ``mode``.
    """
    return get_rule(mode).check_options(d_steps, beta)


def _check_rule(mode, beta):
    get_rule(mode)
    check_beta(beta)


def num_delays(mode: str) -> int:
    """Delays ``r`` needed to measure eigenvalues from a run (theory section 8): 4 for
    optimistic and momentum (augmented state), else 2."""
    return get_rule(mode).num_delays


def state_copies(mode: str) -> int:
    """How many copies of the reduced state ``(B, e)`` the rule's linear state holds."""
    return get_rule(mode).state_copies


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

    Parameters
    ----------
    mode : str
        An update rule of :data:`REGISTRY` (``GDA.mode``).
    beta : float
        Momentum coefficient (``mode="momentum"`` only).
    num : int
        Points on the unit circle of ``z``.

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
    num = V.integer(num, "num", minimum=2)
    from .resources import check_bytes, format_count

    check_bytes(num * 16 * 6, "stability_region curve", detail=f"{format_count(num)} points x 6 complex "
                "work arrays", hint="use a smaller num")
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
    """``M = D A`` on the reduced state (theory section 8).

    ``A = [[-lam I, -C Q], [Q Pb, Q H]]`` on ``(B, e)``; with a parametric generator the
    blocks carry ``CQJ = C Q J``, ``JQPb = J^T Q Pb`` and ``JQHJ = J^T Q H J + M`` and ``A``
    acts on ``(B, t)`` (theory section 12).
    """
    ld = blocks["C"].shape[0]
    if "CQJ" in blocks:
        cq, qp, qh = blocks["CQJ"], blocks["JQPb"], blocks["JQHJ"]
    else:
        C, H, Q, Pb = blocks["C"], blocks["H"], blocks["Q"], blocks["Pb"]
        cq, qp, qh = C @ Q, Q @ Pb, Q @ H
    A = np.vstack([np.hstack([-lam * np.eye(ld), -cq]), np.hstack([qp, qh])])
    d = np.concatenate([np.full(ld, eta_d), np.full(qh.shape[0], eta_g)])
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
