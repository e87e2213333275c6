"""``kernelgda rates``: closed forms of the isolated points model (theory section 5).

One true point of weight ``p``, ``n`` generated points of weight ``q`` on it.
Prints the eigenvalues of :func:`kernelgda.isolated.eigenvalues` (``rho_a``,
``rho_b``, the coupled pair ``rho_c``, the dominant one, the generator-visible
rate, the spectral radius and the regime), the derived parameters
``delta = p - n q``, ``a = eta_d lam``, ``kappa = eta_g q delta / (lam sigma^2)``
and ``c = eta_d eta_g n q^2 / sigma^2``, and the boundaries of theory section 5
(stated for alternating GDA with ``delta = 0``): the oscillation band and the
divergence threshold in ``c``, the bandwidth below which GDA diverges, the
best-``sigma`` window, the best ``lam`` for this ``c`` and the continuous-time
critical damping. ``--json`` prints the same as one JSON object (complex numbers
as ``[re, im]``, NaN and infinity as ``null``; ``rho_a``, ``rho_b`` and ``rho_c`` are
lists, ``rho_a`` the signed discriminator eigenvalue(s)). A boundary that does not
exist for these parameters (the oscillation band for ``eta_d lam > 1``, the best
``lam`` for ``c >= 1``) reads "none (...)". Parameters whose eigenvalues lie beyond
the float64 range are refused with one line (exit code 2).

Example: ``kernelgda rates --p 1 --q 0.8 --n 1 --eta-d 0.1 --eta-g 0.1 --lam 0.5 --sigma 0.3``.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

__all__ = ["register", "run", "compute", "to_jsonable", "fmt"]


# -- argument types: one-line messages naming the option (argparse adds "argument --x:") ----

def _real(text: str, *, positive=False, nonnegative=False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    if positive and value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    if nonnegative and value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number ``> 0``."""
    return _real(text, positive=True)


def nonnegative_float(text: str) -> float:
    """argparse type: a finite number ``>= 0``."""
    return _real(text, nonnegative=True)


def real_float(text: str) -> float:
    """argparse type: a finite number."""
    return _real(text)


def int_at_least(minimum: int):
    """argparse type factory: an integer ``>= minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text}")
        return value
    return parse


#: argparse type: an integer ``>= 1``.
positive_int = int_at_least(1)


# -- output helpers (shared with ``analyze``) -------------------------------------------------

def to_jsonable(obj):
    """Convert results to plain JSON: complex -> ``[re, im]``, NaN/inf -> ``None``, arrays -> lists."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()] if obj.ndim else to_jsonable(obj.item())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, bool | str | int) or obj is None:
        return obj
    if isinstance(obj, complex):
        return [to_jsonable(obj.real), to_jsonable(obj.imag)]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    raise TypeError(f"cannot convert {type(obj).__name__} to JSON")  # pragma: no cover


def dumps(obj) -> str:
    """Strict JSON text of ``obj`` (see :func:`to_jsonable`)."""
    return json.dumps(to_jsonable(obj), indent=2, allow_nan=False)


def fmt(x, digits: int = 10) -> str:
    """A number for a table: ``g`` format, complex as ``re+imj``, NaN as ``-``."""
    if x is None:
        return "-"
    if isinstance(x, complex | np.complexfloating):
        x = complex(x)
        if x.imag == 0:
            return fmt(x.real, digits)
        if not (math.isfinite(x.real) and math.isfinite(x.imag)):
            return "-"
        return f"{x.real:.{digits}g}{x.imag:+.{digits}g}j"
    x = float(x)
    if math.isnan(x):
        return "-"
    return f"{x:.{digits}g}"


def _values(arr) -> list:
    """The finite entries of an eigenvalue array, as Python complex numbers."""
    flat = np.atleast_1d(np.asarray(arr, dtype=complex)).ravel()
    return [complex(z) for z in flat if np.isfinite(z)]


# -- computation: library calls only ------------------------------------------------------------

def compute(*, p, q, n, eta_d, eta_g, lam, sigma, mode="alternating", beta=None, d_steps=None) -> dict:
    """Closed forms and boundaries for one parameter set, as a plain dict (JSON layout of ``--json``)."""
    from .. import isolated

    r = isolated.eigenvalues(p=p, q=q, n=n, eta_d=eta_d, eta_g=eta_g, lam=lam, sigma=sigma, mode=mode,
                             beta=beta, d_steps=d_steps)
    _, a, kappa, c = (float(v) for v in isolated.model_parameters(p=p, q=q, n=n, eta_d=eta_d, eta_g=eta_g,
                                                                   lam=lam, sigma=sigma))
    delta = float(isolated.mass_mismatch(p=p, q=q, n=n))
    c_lo, c_hi = isolated.oscillation_band(a)
    win_lo, win_hi = isolated.best_sigma_window(q=q, n=n, eta_d=eta_d, eta_g=eta_g, lam=lam)
    applies = mode == "alternating" and (d_steps in (None, 1)) and delta == 0
    params = {"p": p, "q": q, "n": n, "eta_d": eta_d, "eta_g": eta_g, "lam": lam, "sigma": sigma,
              "mode": mode}
    if beta is not None:
        params["beta"] = beta
    if d_steps is not None:
        params["d_steps"] = d_steps
    return {
        "parameters": params,
        "delta": delta, "a": a, "kappa": kappa, "c": c,
        "rho_a": _values(r.rho_a),
        "rho_b": _values(r.rho_b),
        "rho_c": _values(r.rho_c),
        "dominant": complex(r.dominant),
        "generator_rate": float(r.generator_rate),
        "spectral_radius": float(r.spectral_radius),
        "regime": r.regime,
        "note": ("lam = 0 with delta != 0: no fixed point exists (theory section 3)"
                 if lam == 0 and delta != 0 else None),
        "boundaries": {
            "assumes": "alternating GDA, d_steps = 1, delta = 0; theory section 5",
            "applies": bool(applies),
            "oscillation_band_c": [float(c_lo), float(c_hi)],
            "divergence_threshold_c": float(isolated.divergence_threshold(a, kappa))
            if math.isfinite(kappa) else float("nan"),
            "divergence_sigma": float(isolated.divergence_sigma(q=q, n=n, eta_d=eta_d, eta_g=eta_g,
                                                                 lam=lam)),
            "best_sigma_window": [float(win_lo), float(win_hi)],
            "best_lam_for_c": float(isolated.best_lam(c, eta_d)),
            "best_rate_for_c": float(isolated.best_rate(c)),
            "critical_damping_lam": float(isolated.critical_damping_lam(eta_d=eta_d, eta_g=eta_g, q=q,
                                                                        p=p, sigma=sigma)),
        },
    }


def format_table(res: dict) -> str:
    """The human-readable table of :func:`compute`'s result."""
    par = res["parameters"]
    b = res["boundaries"]
    a_le_1, c_lt_1 = res["a"] <= 1, res["c"] < 1
    setting = ", ".join(f"{k} = {fmt(v) if not isinstance(v, str) else v}" for k, v in par.items())
    rows = [
        ("delta = p - n q", fmt(res["delta"])),
        ("a = eta_d lam", fmt(res["a"])),
        ("kappa = eta_g q delta / (lam sigma^2)", fmt(res["kappa"])),
        ("c = eta_d eta_g n q^2 / sigma^2", fmt(res["c"])),
        None,
        ("rho_a (discriminator modes)", ", ".join(map(fmt, res["rho_a"]))),
        ("rho_b (spread modes, n - 1)", ", ".join(map(fmt, res["rho_b"])) or "- (none: n = 1)"),
        ("rho_c (coupled pair)", ", ".join(map(fmt, res["rho_c"])) or "-"),
        ("dominant", fmt(res["dominant"])),
        ("generator-visible rate", fmt(res["generator_rate"])),
        ("spectral radius", fmt(res["spectral_radius"])),
        ("regime", res["regime"]),
        None,
        ("oscillation band", f"{fmt(b['oscillation_band_c'][0])} < c < {fmt(b['oscillation_band_c'][1])}"
         if a_le_1 else "none (a > 1: the pair is real for every c)"),
        ("divergence threshold (2 - a)(2 - kappa)", f"c > {fmt(b['divergence_threshold_c'])}"
         if math.isfinite(res["kappa"]) else "none (no fixed point)"),
        ("divergence sigma", f"sigma < {fmt(b['divergence_sigma'])}"
         if res["a"] < 2 else "every sigma (a >= 2)"),
        ("best-sigma window", f"{fmt(b['best_sigma_window'][0])} <= sigma <= "
                              f"{fmt(b['best_sigma_window'][1])}"
         if a_le_1 else "none (a > 1: no complex pair)"),
        ("best lam for this c (c < 1)", fmt(b["best_lam_for_c"]) if c_lt_1 else "none (c >= 1)"),
        ("rate at the best lam", fmt(b["best_rate_for_c"]) if c_lt_1 else "none (c >= 1)"),
        ("critical damping lam (continuous time)", fmt(b["critical_damping_lam"])),
    ]
    width = max(len(r[0]) for r in rows if r)
    lines = ["isolated points model (theory section 5)", f"  {setting}", ""]
    sections = iter(["derived parameters", "eigenvalues (each d times)",
                     f"boundaries (assuming {b['assumes']}"
                     + ("" if b["applies"] else "; not this setting: for reference") + ")"])
    lines.append(next(sections))
    for r in rows:
        if r is None:
            lines += ["", next(sections)]
        else:
            lines.append(f"  {r[0]:<{width}}  {r[1]}")
    if res["note"]:
        lines += ["", f"note: {res['note']}"]
    return "\n".join(lines)


def run(args) -> int:
    res = compute(p=args.p, q=args.q, n=args.n, eta_d=args.eta_d, eta_g=args.eta_g, lam=args.lam,
                  sigma=args.sigma, mode=args.mode, beta=args.beta, d_steps=args.d_steps)
    print(dumps(res) if args.json else format_table(res))
    return 0


def register(subparsers) -> None:
    from ..game import MODES

    sp = subparsers.add_parser(
        "rates", help="closed-form eigenvalues, rate and regime of the isolated points model",
        description="Closed forms of the isolated points model (theory section 5): one true point "
                    "of weight p with n generated points of weight q on it.")
    sp.add_argument("--p", type=nonnegative_float, default=1.0, help="true weight p >= 0 (default 1)")
    sp.add_argument("--q", type=positive_float, default=1.0,
                    help="weight of each generated point, > 0 (default 1)")
    sp.add_argument("--n", type=positive_int, default=1, help="number of generated points (default 1)")
    sp.add_argument("--eta-d", type=positive_float, required=True, help="discriminator learning rate")
    sp.add_argument("--eta-g", type=positive_float, required=True, help="generator learning rate")
    sp.add_argument("--lam", type=nonnegative_float, required=True, help="regularization lam >= 0")
    sp.add_argument("--sigma", type=positive_float, required=True,
                    help="kernel bandwidth sigma > 0 (any float64: the closed forms evaluate no "
                         "kernel, so the kernels' range [1e-50, 1e50] does not apply)")
    sp.add_argument("--mode", choices=MODES, default="alternating", help="update rule (default alternating)")
    sp.add_argument("--beta", type=real_float, default=None, help="momentum coefficient (mode momentum)")
    sp.add_argument("--d-steps", type=positive_int, default=None,
                    help="discriminator steps per generator step (mode alternating)")
    sp.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sp.set_defaults(func=run)
