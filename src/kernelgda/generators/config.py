"""A generator from a scenario file's ``[generator]`` table (:mod:`kernelgda.scenario`).

Layout (every key; *optional* ones show their default)::

    [generator]                 # optional: y_j = G(theta, z_j) instead of free points (theory section 12)
    kind = "mlp"                # "affine" | "mlp"
    latent_dim = 2              # k: latent codes z_j ~ N(0, I_k), one per generated point, drawn from
    latent_seed = 0             #    default_rng(latent_seed) (optional, default 0)
    # latent = [[0.1, 2.0], ...]  an explicit (n, k) array instead of latent_dim / latent_seed
    seed = 0                    # optional: seed of the initial parameters (default 0)
    # theta = [0.5, -1.0, 0.0]    optional: explicit initial parameters instead of seed (layout in
    #                             kernelgda.generators.Affine / MLP)
    bias = true                 # affine only (optional, default true)
    hidden = [16]               # mlp only: hidden-layer widths (optional, default [16])
    activation = "tanh"         # mlp only: "tanh" | "softplus" | "relu" (optional, default "tanh")

The ``[generated]`` table still gives the number ``n`` of generated points and their weights; with
a generator the run starts from ``G(theta0, Z)`` instead of the listed points.
"""

from __future__ import annotations

import numpy as np

from .. import _validate as V
from .affine import Affine
from .base import Generator
from .mlp import ACTIVATIONS, MLP

__all__ = ["from_table", "KEYS", "KINDS"]

#: Generator kinds of a scenario file.
KINDS = ("affine", "mlp")
#: Every key of the ``[generator]`` table.
KEYS = ("kind", "latent_dim", "latent_seed", "latent", "seed", "theta", "bias", "hidden", "activation")
#: Largest latent dimension and layer width a scenario may ask for (a refusal, not an allocation).
MAX_WIDTH = 10**6


def _int(tab, key, default, minimum, maximum=MAX_WIDTH):
    value = tab.get(key, default)
    if type(value) is not int or not minimum <= value <= maximum:
        raise ValueError(f"generator.{key} must be an integer in [{minimum}, {maximum}], got {value!r}")
    return value


def from_table(tab: dict, n: int, d: int) -> Generator:
    """The generator described by a ``[generator]`` table, for ``n`` points in ``d`` dimensions.

    Raises ``ValueError`` naming the dotted key (``generator.hidden``) for an unknown key, a
    wrong type or a bad value.

    Examples
    --------
    >>> gen = from_table({"kind": "affine", "latent_dim": 2}, n=3, d=1)
    >>> type(gen).__name__, gen.num_params, gen.z.shape
    ('Affine', 3, (3, 2))
    """
    if not isinstance(tab, dict):
        raise ValueError(f"[generator] must be a table, got {type(tab).__name__}")
    unknown = sorted(set(tab) - set(KEYS))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join('generator.' + k for k in unknown)}; "
                         f"valid generator keys: {', '.join(KEYS)}")
    kind = tab.get("kind")
    if kind not in KINDS:
        raise ValueError(f"generator.kind must be one of {', '.join(map(repr, KINDS))}, got {kind!r}")
    if "latent" in tab:
        if "latent_dim" in tab or "latent_seed" in tab:
            raise ValueError("give generator.latent or generator.latent_dim (with latent_seed), not both")
        try:
            z = V.array(tab["latent"], "generator.latent")
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        z = z[:, None] if z.ndim == 1 else z
        if z.ndim != 2 or z.shape[0] != n:
            raise ValueError(f"generator.latent must be an (n, k) array with n = {n} (the generated points), "
                             f"got shape {z.shape}")
    else:
        k = _int(tab, "latent_dim", None, 1)
        if n * k > MAX_WIDTH:
            raise ValueError(f"generator.latent_dim = {k} with n = {n} asks for more than {MAX_WIDTH} codes")
        z = np.random.default_rng(_int(tab, "latent_seed", 0, 0, 2**63 - 1)).standard_normal((n, k))
    if "theta" in tab and "seed" in tab:
        raise ValueError("give generator.theta or generator.seed, not both")
    seed = _int(tab, "seed", 0, 0, 2**63 - 1)
    theta = None
    if "theta" in tab:
        try:
            theta = V.array(tab["theta"], "generator.theta")
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        seed = None
    if kind == "affine":
        for key in ("hidden", "activation"):
            if key in tab:
                raise ValueError(f"generator.{key} applies to kind = 'mlp' only")
        bias = tab.get("bias", True)
        if not isinstance(bias, bool):
            raise ValueError(f"generator.bias must be true or false, got {bias!r}")
        gen = Affine(z, d, bias=bias, seed=seed)
        return gen if theta is None else gen.with_theta(_theta(gen, theta))
    if "bias" in tab:
        raise ValueError("generator.bias applies to kind = 'affine' only")
    hidden = tab.get("hidden", [16])
    if not isinstance(hidden, list) or not hidden or any(type(h) is not int or not 1 <= h <= MAX_WIDTH
                                                         for h in hidden):
        raise ValueError(f"generator.hidden must be a non-empty list of layer widths in [1, {MAX_WIDTH}], "
                         f"got {hidden!r}")
    activation = tab.get("activation", "tanh")
    if activation not in ACTIVATIONS:
        raise ValueError(f"generator.activation must be one of {', '.join(map(repr, ACTIVATIONS))}, "
                         f"got {activation!r}")
    gen = MLP(z, d, tuple(hidden), activation, seed=seed)
    return gen if theta is None else gen.with_theta(_theta(gen, theta))


def _theta(gen, theta):
    if theta.shape != (gen.num_params,):
        raise ValueError(f"generator.theta must be a list of {gen.num_params} parameters for this generator, "
                         f"got shape {theta.shape}")
    return theta
