"""Scenario files: a kernel GAN, its GDA settings and a starting configuration, in TOML.

A scenario names the true points and weights, the generated points and weights,
the kernel and the GDA settings (theory sections 1 and 2). Layout (every table
and key is listed; keys marked *optional* have the default shown)::

    name = "overlap"                  # optional; default: the file name without .toml
    description = "free text"         # optional
    lam = 0.5                         # discriminator regularization of the game, >= 0

    [true]                            # the true points x_i and weights p_i
    points = [[0.0, 0.0], [0.3, 0.0]] # an explicit (m, d) list (a flat list: m points in d = 1),
    # or a generator instead of points:
    # kind = "ring"      num = 6, radius = 1.0, dim = 2, center = [0, 0]   (points in the first two axes)
    # kind = "grid"      num = 3 (per axis: num^dim points), spacing = 1.0, dim = 2, center
    # kind = "gaussian"  num = 10, scale = 1.0, dim = 2, seed = 0, center  (N(center, scale^2 I))
    weights = 1.0                     # optional: a scalar for every point or a list of m; default 1

    [generated]                       # the generated points y_j (starting point) and weights q_j
    on_true = true                    # generated points on the true points, or `points` / `kind` as above
    per_point = 1                     # optional, only with on_true: k generated points on each true point
    weights = 0.5                     # optional: a scalar or a list of n (see below)
    offset = [0.05, 0.0]              # optional: added to every generated point (a scalar, a (d,)
                                      # vector or an (n, d) array); default 0

    [kernel]
    kind = "gaussian"                 # "gaussian" | "rational_quadratic" | "laplacian" |
                                      # "multiscale" | "nngp" | "ntk" | "erf_nngp"
    sigma = 0.5                       # bandwidth in [1e-50, 1e50] (not for nngp, multiscale)
    # sigmas = [0.1, 1.0]             # multiscale only: the bandwidths (at most 1000)
    # scale_weights = [1.0, 0.5]      # multiscale only: weight of each bandwidth (default 1 each)
    # alpha = 1.0                     # rational_quadratic only (default 1), in [1e-50, 1e50]
    # depth = 2                       # nngp only: number of ReLU layers (default 2, at most 100)
    # bias = 0.0                      # nngp only: bias std. dev. beta (default 0; else in [1e-50, 1e50])
    # sigma_w = 1.0, sigma_b = 0.0    # ntk and erf_nngp (theory section 13): weight and bias std. devs.
    # activation = "erf"              # ntk only: "erf" (every derivative) or "relu" (value, gradient)

    [gda]
    eta_d = 0.1                       # discriminator learning rate, > 0
    eta_g = 0.1                       # generator learning rate, > 0
    mode = "alternating"              # optional: "alternating" (default) | "simultaneous" |
                                      # "extragradient" | "optimistic" | "momentum" (theory section 8)
    # d_steps = 1                     # optional, alternating only: discriminator steps per generator step
    # beta = 0.0                      # optional, momentum only: heavy-ball coefficient in (-1, 1)

    [generator]                       # optional: a parametric generator y_j = G(theta, z_j) (theory
    kind = "mlp"                      # section 12); every key in kernelgda.generators.config
    latent_dim = 2                    # latent codes z_j ~ N(0, I_2), one per generated point

Defaults of the weights: true weights are ``1``. Generated weights default to a
*matched mass*: with ``on_true``, each of the ``k`` generated points on true point
``i`` gets ``p_i / k`` (so every cluster has mass mismatch ``delta = 0``); with
explicit or generated points, each gets ``sum(p) / n``. With ``on_true`` the
generated points are ordered true point by true point: ``y_{ik + r} = x_i``,
``r = 0..k-1``.

``lam`` is a parameter of the game (:class:`kernelgda.KernelGAN`), not of the update
rule, so it sits at the top level. Files that give it as ``gda.lam`` (the old place)
still load, with a ``DeprecationWarning``; giving both is an error.

Generators are deterministic; only ``kind = "gaussian"`` draws random numbers, from
``numpy.random.default_rng(seed)`` (default seed 0), so a file always gives the same
points. Every problem (unreadable file, malformed TOML, a missing required key, an
unknown key, a wrong type or value) raises a ``ValueError`` that names the file and
the dotted key (``kernel.sigma``) and says what was expected.
Coordinates are at most ``1e50`` in size and kernel parameters lie in ``[1e-50, 1e50]``,
where every derived quantity is a finite float64 (:mod:`kernelgda.kernels`).

Examples
--------
>>> s = parse_scenario({"true": {"points": [[0.0]]}, "generated": {"on_true": True},
...                     "kernel": {"sigma": 0.5}, "lam": 0.5, "gda": {"eta_d": 0.1, "eta_g": 0.1}})
>>> s.params()["sigma"], s.y0.shape, s.q.tolist()
(0.5, (1, 1), [1.0])
>>> s.with_params(sigma=0.2).gan.kernel.sigma
0.2
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _validate as V
from . import tables as T
from .game import GDA, MODES, KernelGAN
from .generators import Generator
from .generators.config import from_table as generator_from_table
from .kernels import make_kernel
from .resources import check_bytes, format_count, pairwise_bytes, points_bytes

__all__ = ["Scenario", "parse_scenario", "load_scenario", "KERNEL_KINDS", "GENERATORS",
           "OVERRIDABLE"]

#: Kernels a scenario file may name.
KERNEL_KINDS = ("gaussian", "rational_quadratic", "laplacian", "multiscale", "nngp", "ntk", "erf_nngp")
#: Point generators and the keys each accepts (besides ``kind``).
GENERATORS = {
    "ring": ("num", "radius", "dim", "center"),
    "grid": ("num", "spacing", "dim", "center"),
    "gaussian": ("num", "scale", "dim", "seed", "center"),
}
#: Parameters :meth:`Scenario.with_params` may replace.
OVERRIDABLE = ("sigma", "alpha", "lam", "eta_d", "eta_g", "mode", "d_steps", "beta")

_TOP_KEYS = ("name", "description", "lam", "true", "generated", "kernel", "gda", "generator")
_KERNEL_KEYS = ("kind", "sigma", "alpha", "depth", "bias", "sigmas", "scale_weights", "activation", "sigma_w",
                "sigma_b")
_GDA_KEYS = ("eta_d", "eta_g", "mode", "d_steps", "beta")
_TRUE_KEYS = ("points", "kind", "weights") + tuple(sorted({k for v in GENERATORS.values() for k in v}))
_GEN_KEYS = _TRUE_KEYS + ("on_true", "per_point", "offset")


@dataclass(frozen=True, eq=False)
class Scenario:
    """A kernel GAN with GDA settings and a starting configuration.

    Attributes
    ----------
    name : str
    gan : KernelGAN
        True points, weights, kernel and ``lam``.
    gda : GDA
        Learning rates and update order.
    y0 : (n, d) array
        Generated points as given in the file (a start for
        :func:`~kernelgda.find_equilibrium` or :func:`~kernelgda.simulate`).
    q : (n,) array
        Generated weights.
    source : dict
        The parsed TOML table (kept in step by :meth:`with_params`).
    generator : Generator or None
        A parametric generator from the optional ``[generator]`` table
        (:mod:`kernelgda.generators.config`); ``None``: the generated points are free.
    """

    name: str
    gan: KernelGAN
    gda: GDA
    y0: np.ndarray
    q: np.ndarray
    source: dict
    generator: Generator | None = None

    def params(self) -> dict:
        """Flat dict of the scalar parameters.

        Keys ``kernel`` (kind), ``sigma`` (and ``alpha`` for the rational quadratic
        kernel; ``depth`` and ``bias`` instead for the NNGP kernel, the lists ``sigmas`` and
        ``scale_weights`` for the multiscale kernel), ``lam``, ``eta_d``,
        ``eta_g``, ``mode``, ``d_steps``, ``beta``, ``n``,
        ``m``, ``d``.
        """
        kp = self.gan.kernel.params()
        out = {"kernel": kp["kind"]}
        out.update({k: (int(v) if k == "depth" else [float(u) for u in v] if isinstance(v, list | tuple)
                        else v if isinstance(v, str) else float(v)) for k, v in kp.items() if k != "kind"})
        out.update(lam=self.gan.lam, eta_d=self.gda.eta_d, eta_g=self.gda.eta_g, mode=self.gda.mode,
                   d_steps=self.gda.d_steps, beta=self.gda.beta,
                   n=int(self.y0.shape[0]), m=self.gan.m, d=self.gan.d)
        return out

    def with_params(self, **overrides) -> Scenario:
        """The same scenario with some of :data:`OVERRIDABLE` replaced.

        ``sigma, alpha, lam, eta_d, eta_g, mode, d_steps, beta``; the generated and
        true points stay as they are.

        Raises
        ------
        ValueError
            For an unknown key (the message lists the valid ones), ``alpha`` on a
            kernel other than ``rational_quadratic``, or a bad value.

        Examples
        --------
        >>> s = parse_scenario({"true": {"points": [[0.0]]}, "generated": {"on_true": True},
        ...                     "kernel": {"sigma": 1.0}, "lam": 1, "gda": {"eta_d": 0.1, "eta_g": 0.1}})
        >>> t = s.with_params(lam=0.25, mode="simultaneous")
        >>> t.gan.lam, t.gda.mode, s.gan.lam
        (0.25, 'simultaneous', 1.0)
        """
        unknown = sorted(set(overrides) - set(OVERRIDABLE))
        if unknown:
            raise ValueError(f"unknown scenario parameter(s) {', '.join(map(repr, unknown))}; "
                             f"valid: {', '.join(OVERRIDABLE)}")
        kernel_kind = self.gan.kernel.name
        if "alpha" in overrides and kernel_kind != "rational_quadratic":
            raise ValueError(f"alpha applies only to the rational_quadratic kernel, "
                             f"this scenario's kernel is {kernel_kind!r}")
        source = copy.deepcopy(self.source)
        kernel_tab = source.setdefault("kernel", {})
        gda_tab = source.setdefault("gda", {})
        if "lam" in gda_tab:  # an old-style source (warned about when it was parsed)
            source["lam"] = gda_tab.pop("lam")
        for key, value in overrides.items():
            if isinstance(value, np.generic):  # NumPy scalars from parameter grids
                value = value.item()
            if key == "lam":
                source["lam"] = value
            else:
                (kernel_tab if key in ("sigma", "alpha") else gda_tab)[key] = value
        kernel = _kernel(kernel_tab)
        gan = self.gan.with_kernel(kernel).with_lam(T.scalar(source, "lam", "", nonnegative=True))
        return Scenario(self.name, gan, _gda(gda_tab), self.y0, self.q, source, self.generator)


# -- building blocks ------------------------------------------------------------------------

def _generate(tab: dict, path: str, kind: str) -> np.ndarray:
    allowed = ("kind",) + GENERATORS[kind]
    extra = [k for k in tab if k not in allowed and k in _TRUE_KEYS and k not in ("weights",)]
    if extra:
        raise ValueError(f"key {path}{extra[0]} does not apply to kind = {kind!r}; "
                         f"that generator takes: {', '.join(GENERATORS[kind])}")
    num = T.integer(tab, "num", path, minimum=1)
    dim = T.integer(tab, "dim", path, default=2, minimum=2 if kind == "ring" else 1)
    if kind == "ring":
        radius = T.scalar(tab, "radius", path, default=1.0, positive=True)
        angle = 2.0 * math.pi * np.arange(num) / num
        pts = np.zeros((num, dim))
        pts[:, 0] = radius * np.cos(angle)
        pts[:, 1] = radius * np.sin(angle)
    elif kind == "grid":
        spacing = T.scalar(tab, "spacing", path, default=1.0, positive=True)
        axis = (np.arange(num) - (num - 1) / 2.0) * spacing
        mesh = np.meshgrid(*([axis] * dim), indexing="ij")
        pts = np.stack([g.ravel() for g in mesh], axis=1)
    else:
        scale = T.scalar(tab, "scale", path, default=1.0, positive=True)
        seed = T.integer(tab, "seed", path, default=0, minimum=0)
        pts = scale * np.random.default_rng(seed).standard_normal((num, dim))
    if "center" in tab:
        center = T.numeric_array(tab["center"], f"{path}center")
        if center.shape != (dim,):
            raise ValueError(f"{path}center must be a list of {dim} numbers (dim = {dim}), "
                             f"got shape {center.shape}")
        pts = pts + center
    return pts


def _points(tab: dict, path: str, *, alternatives: str) -> np.ndarray:
    has_points, has_kind = "points" in tab, "kind" in tab
    if has_points and has_kind:
        raise ValueError(f"give either {path}points or {path}kind (a generator), not both")
    if has_points:
        extra = [k for k in tab if k in _TRUE_KEYS and k not in ("points", "weights")]
        if extra:
            raise ValueError(f"key {path}{extra[0]} only applies to a generator ({path}kind); "
                             f"it does not go with {path}points")
        return V.points(T.numeric_array(tab["points"], f"{path}points"), f"{path}points")
    if has_kind:
        kind = T.string(tab, "kind", path, options=tuple(GENERATORS))
        return _generate(tab, path, kind)
    raise ValueError(f"missing required key: [{path.rstrip('.')}] needs {alternatives}")


def _weights(tab: dict, path: str, num: int, default) -> np.ndarray:
    if "weights" not in tab:
        return np.full(num, default) if np.ndim(default) == 0 else np.asarray(default, dtype=float)
    full = f"{path}weights"
    return V.weights(T.numeric_array(tab["weights"], full), full, num)


def _kernel(tab: dict):
    path = "kernel."
    T.check_keys(tab, _KERNEL_KEYS, path, "kernel keys")
    kind = T.string(tab, "kind", path, default="gaussian", options=KERNEL_KINDS)
    for key, owner in (("alpha", "rational_quadratic"), ("depth", "nngp"), ("bias", "nngp"),
                       ("sigmas", "multiscale"), ("scale_weights", "multiscale"), ("activation", "ntk"),
                       ("sigma_w", "ntk erf_nngp"), ("sigma_b", "ntk erf_nngp")):
        if key in tab and kind not in owner.split():
            raise ValueError(f"kernel.{key} applies only to kind = {owner.split()[0]!r}, not {kind!r}")
    if kind in ("ntk", "erf_nngp"):  # the two-layer network's kernels (theory section 13)
        if "sigma" in tab:
            raise ValueError(f"kernel.sigma does not apply to kind = {kind!r}: its keys are sigma_w, sigma_b")
        scales = {k: T.scalar(tab, k, path, default=d, nonnegative=True)
                  for k, d in (("sigma_w", 1.0), ("sigma_b", 0.0))}
        if kind == "ntk":
            scales["activation"] = T.string(tab, "activation", path, default="erf", options=("erf", "relu"))
        return make_kernel(kind, **scales)
    if kind in ("nngp", "multiscale") and "sigma" in tab:
        raise ValueError(f"kernel.sigma does not apply to kind = {kind!r}: its keys are "
                         + ("depth and bias" if kind == "nngp" else "sigmas and scale_weights"))
    if kind == "multiscale":
        if "sigmas" not in tab:
            raise ValueError("missing required key kernel.sigmas (the bandwidths of the multiscale kernel)")
        sigmas = T.numeric_array(tab["sigmas"], "kernel.sigmas")
        weights = tab.get("scale_weights")
        return make_kernel(kind, sigmas=sigmas, scale_weights=None if weights is None else
                           T.numeric_array(weights, "kernel.scale_weights"))
    if kind == "nngp":
        return make_kernel(kind, depth=T.integer(tab, "depth", path, default=2, minimum=1),
                           bias=T.scalar(tab, "bias", path, default=0.0, nonnegative=True))
    sigma = T.scalar(tab, "sigma", path, positive=True)
    if kind == "rational_quadratic":
        return make_kernel(kind, sigma=sigma, alpha=T.scalar(tab, "alpha", path, default=1.0, positive=True))
    return make_kernel(kind, sigma=sigma)


def _lam(table: dict) -> float:
    """``lam`` from the top level, or from its old place ``gda.lam`` with a deprecation warning."""
    gda_tab = table.get("gda", {})
    if isinstance(gda_tab, dict) and "lam" in gda_tab:
        if "lam" in table:
            raise ValueError("lam is given both at the top level and as gda.lam; give it once, at the "
                             "top level")
        warnings.warn("gda.lam is deprecated: lam is a parameter of the game, write it at the top "
                      "level of the scenario (lam = ...)", DeprecationWarning, stacklevel=3)
        return T.scalar(gda_tab, "lam", "gda.", nonnegative=True)
    return T.scalar(table, "lam", "", nonnegative=True)


def _gda(tab: dict) -> GDA:
    path = "gda."
    tab = {k: v for k, v in tab.items() if k != "lam"}  # lam: see _lam
    T.check_keys(tab, _GDA_KEYS, path, "GDA keys")
    mode = T.string(tab, "mode", path, default="alternating", options=MODES)
    d_steps = T.integer(tab, "d_steps", path, default=1, minimum=1)
    beta = T.scalar(tab, "beta", path, default=0.0)
    if d_steps != 1 and mode != "alternating":
        raise ValueError(f"gda.d_steps applies to mode = 'alternating' only, not {mode!r}")
    if beta != 0 and mode != "momentum":
        raise ValueError(f"gda.beta applies to mode = 'momentum' only, not {mode!r}")
    if not -1 < beta < 1:
        raise ValueError(f"gda.beta must be in (-1, 1), got {beta}")
    return GDA(eta_d=T.scalar(tab, "eta_d", path, positive=True),
               eta_g=T.scalar(tab, "eta_g", path, positive=True), mode=mode, d_steps=d_steps, beta=beta)


def _generated(tab: dict, x: np.ndarray, p: np.ndarray):
    path = "generated."
    T.check_keys(tab, _GEN_KEYS, path, "generated-point keys")
    on_true = tab.get("on_true", False)
    if not isinstance(on_true, bool):
        raise ValueError(f"generated.on_true must be true or false, got {on_true!r}")
    if on_true:
        clash = [k for k in ("points", "kind") if k in tab]
        if clash:
            raise ValueError(f"give either generated.on_true or generated.{clash[0]}, not both")
        k = T.integer(tab, "per_point", path, default=1, minimum=1)
        y = np.repeat(x, k, axis=0)
        q = _weights(tab, path, y.shape[0], np.repeat(p / k, k))
    else:
        if "per_point" in tab:
            raise ValueError("generated.per_point only applies with generated.on_true = true")
        y = _points(tab, path, alternatives="points, kind (a generator) or on_true = true")
        if y.shape[1] != x.shape[1]:
            raise ValueError(f"generated points have dimension {y.shape[1]} but the true points have "
                             f"{x.shape[1]}")
        q = _weights(tab, path, y.shape[0], p.sum() / y.shape[0])
    if "offset" in tab:
        off = T.numeric_array(tab["offset"], "generated.offset")
        if off.shape not in ((), (x.shape[1],), y.shape):
            raise ValueError(f"generated.offset must be a number, a list of d = {x.shape[1]} numbers "
                             f"or an {y.shape} array, got shape {off.shape}")
        if not np.isfinite(off).all():
            raise ValueError("generated.offset must contain only finite numbers (no NaN or inf)")
        y = y + off
        if np.abs(y).max() > V.COORD_MAX:
            raise ValueError(f"generated.offset moves a generated point to {np.abs(y).max():g}, beyond "
                             f"the coordinate bound {V.COORD_MAX:g}")
    return y, q


def _planned(tab) -> tuple[int, int] | None:
    """``(num_points, dim)`` a [true] or [generated] table will allocate, from its raw keys (None:
    explicit points, already in memory, or keys the full validation will reject)."""
    if not isinstance(tab, dict) or tab.get("kind") not in GENERATORS:
        return None
    num, dim = tab.get("num"), tab.get("dim", 2)
    if not all(type(v) is int and v >= 1 for v in (num, dim)):
        return None
    if tab["kind"] != "grid":
        return num, dim
    return (num**dim if dim * math.log2(num + 1) < 256 else 2**256), dim


def _check_size(table: dict, max_memory) -> None:
    """Refuse, before generating them, point sets over the memory limit and point sets whose
    fixed-point solve (every use of a scenario starts with one: dense ``(n, n + m, d, d)``
    kernel Hessian blocks, :mod:`kernelgda.equilibrium`) would be (:mod:`kernelgda.resources`)."""
    true_tab, gen_tab = table.get("true"), table.get("generated")
    true = _planned(true_tab)
    if true is None and isinstance(true_tab, dict) and isinstance(true_tab.get("points"), list):
        rows = true_tab["points"]
        true = (len(rows), len(rows[0]) if rows and isinstance(rows[0], list) else 1)
    gen = _planned(gen_tab)
    if isinstance(gen_tab, dict) and gen_tab.get("on_true") is True and true is not None:
        k = gen_tab.get("per_point", 1)
        gen = (true[0] * k, true[1]) if type(k) is int and k >= 1 else None
    for what, plan in (("true", true), ("generated", gen)):
        if plan is not None:  # coordinates and one weight per point
            check_bytes(points_bytes(plan[0], plan[1] + 1), f"scenario [{what}] points", limit=max_memory,
                        detail=f"{format_count(plan[0])} points x ({plan[1]} coordinates + 1 weight) float64",
                        hint="use fewer points")
    if true is not None and gen is not None:
        (m, d), n = true, gen[0]
        check_bytes(pairwise_bytes(n, n + m, d * d), "scenario fixed point", limit=max_memory,
                    detail=f"{format_count(n)} x {format_count(n + m)} x {d} x {d} float64 kernel Hessians",
                    hint="use fewer generated points")


# -- front doors ----------------------------------------------------------------------------

def parse_scenario(table: dict, name: str = "scenario", *, max_memory=None) -> Scenario:
    """Build a :class:`Scenario` from a parsed TOML table (layout in the module docstring).

    Parameters
    ----------
    table : dict
        As returned by :func:`tomllib.load`.
    name : str
        Used when the table has no ``name`` key.
    max_memory : int or str, optional
        Memory limit for the point sets and for their fixed-point solve, checked before
        any point is generated (:func:`kernelgda.resources.check_bytes`; default half the
        available memory).

    Returns
    -------
    Scenario

    Raises
    ------
    ValueError
        Naming the dotted key and what was expected, for a missing required key,
        an unknown key, a wrong type or a bad value.
    """
    if not isinstance(table, dict):
        raise ValueError(f"a scenario must be a table (dict), got {type(table).__name__}")
    T.check_keys(table, _TOP_KEYS, "", "top-level keys and tables")
    _check_size(table, max_memory)
    name = T.string(table, "name", "", default=str(name))
    if "description" in table:
        T.string(table, "description", "")
    true_tab = T.table(table, "true", "")
    T.check_keys(true_tab, _TRUE_KEYS, "true.", "true-point keys")
    x = _points(true_tab, "true.", alternatives="points or kind (a generator)")
    p = _weights(true_tab, "true.", x.shape[0], 1.0)
    y, q = _generated(T.table(table, "generated", ""), x, p)
    kernel = _kernel(T.table(table, "kernel", ""))
    gda = _gda(T.table(table, "gda", ""))
    gan = KernelGAN(x_true=x, p_true=p, kernel=kernel, lam=_lam(table))
    y, q = gan.check_generated(y, q)
    y.flags.writeable = False
    q.flags.writeable = False
    gen = generator_from_table(table["generator"], *y.shape) if "generator" in table else None
    return Scenario(name=name, gan=gan, gda=gda, y0=y, q=q, source=copy.deepcopy(table), generator=gen)


def load_scenario(path, *, max_memory=None) -> Scenario:
    """Read a scenario TOML file (layout in the module docstring); ``max_memory`` as in
    :func:`parse_scenario`.

    Raises
    ------
    ValueError
        Naming the file, for an unreadable file, malformed TOML, or any problem
        :func:`parse_scenario` reports.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "one.toml"
    >>> _ = f.write_text('lam = 0.5\\n[true]\\npoints = [[0.0]]\\n[generated]\\non_true = true\\n'
    ...                  '[kernel]\\nsigma = 0.5\\n[gda]\\neta_d = 0.1\\neta_g = 0.1\\n')
    >>> s = load_scenario(f)
    >>> s.name, s.params()["n"]
    ('one', 1)
    """
    path = Path(path)
    table = T.read_toml(path)
    try:
        return parse_scenario(table, name=path.stem, max_memory=max_memory)
    except ValueError as exc:
        raise ValueError(f"scenario file {str(path)!r}: {exc}") from None
