"""``kernelgda smm SCENARIO.toml``: the second-moment model next to the linear one (theory section 9).

The scenario must have one true point and generated points of equal weight (any
number of them, anywhere around it). Their mean offset and covariance start the
second-moment model (:func:`kernelgda.smm.from_points`); the report gives the
spread ``tr S``, the mean offset ``|e|`` and the mean squared distance
``tr S + |e|^2`` of the SMM and of the linear model at a few steps, and the closed
forms that apply: the ``1/k`` half-life at matched mass and the stationary spread
with excess generated mass. ``--json`` prints the same as one JSON object.

Example: ``kernelgda smm scenarios/cloud.toml --steps 3000``.
"""

from __future__ import annotations

import numpy as np

from .rates import dumps, fmt, positive_int

__all__ = ["register", "run", "compute", "format_report"]


def _checkpoints(num_steps: int) -> list:
    ks = {0, num_steps}
    k = 1
    while k < num_steps:
        ks.add(k)
        k *= 10
    return sorted(ks)


def compute(scenario, *, steps: int = 1000, start: str = "equilibrium") -> dict:
    """The SMM and linear predictions for a scenario, as a plain dict (JSON layout of ``--json``)."""
    from .. import smm

    gan, gda = scenario.gan, scenario.gda
    res = smm.from_points(gan, gda, scenario.y0, scenario.q, steps, start=start)
    n, d = scenario.y0.shape
    p, q = float(gan.p_true[0]), float(scenario.q[0])
    kernel = gan.kernel
    spread0 = float(res.spread[0])
    rows = []
    for k in _checkpoints(steps):
        rows.append({"step": k, "smm_spread": float(res.spread[k]),
                     "linear_spread": float(res.linear_spread[k]),
                     "smm_offset": float(np.linalg.norm(res.e[k])),
                     "linear_offset": float(np.linalg.norm(res.linear_e[k])),
                     "smm_second_moment": float(res.second_moment[k]),
                     "linear_second_moment": float(res.linear_second_moment[k])})
    half = float(smm.half_life(kernel, p=p, q=q, n=n, d=d, lam=gan.lam, eta_g=gda.eta_g,
                               spread0=spread0)) if spread0 > 0 else float("nan")
    stationary = float(smm.stationary_spread(kernel, p=p, q=q, n=n, d=d))
    a = gda.eta_d * gan.lam
    return {
        "scenario": scenario.name,
        "parameters": {"p": p, "q": q, "n": n, "Q": n * q, "delta": p - n * q, "d": d,
                       "kernel": kernel.name, "g": kernel.g, "g2": kernel.g2, "lam": gan.lam,
                       "eta_d": gda.eta_d, "eta_g": gda.eta_g, "mode": gda.mode, "start": start,
                       "steps": steps},
        "initial": {"spread": spread0, "offset": float(np.linalg.norm(res.e[0]))},
        "status": res.status.label,
        "checkpoints": rows,
        "closed_forms": {
            "half_life": half,
            "half_life_quasi_static": bool(np.isfinite(half) and a > 0 and half > 20 / a),
            "half_life_condition": ("matched mass, lam > 0, centred isotropic cloud, "
                                    "k_half > 20 / (eta_d lam)"),
            "stationary_spread": stationary,
            "stationary_spread_condition": "excess generated mass (delta < 0), centred cloud",
        },
    }


def format_report(res: dict) -> str:
    """The human-readable report of :func:`compute`."""
    par, cf = res["parameters"], res["closed_forms"]
    lines = [f"second-moment model (theory section 9): scenario {res['scenario']}",
             f"  p = {fmt(par['p'])}, n = {par['n']} points of q = {fmt(par['q'])} (Q = {fmt(par['Q'])}, "
             f"delta = {fmt(par['delta'])}), d = {par['d']}",
             f"  {par['kernel']} kernel: g = {fmt(par['g'])}, g2 = {fmt(par['g2'])}; "
             f"lam = {fmt(par['lam'])}, eta_d = {fmt(par['eta_d'])}, eta_g = {fmt(par['eta_g'])}, "
             f"{par['mode']}, start {par['start']}",
             f"  initial spread tr S = {fmt(res['initial']['spread'])}, offset |e| = "
             f"{fmt(res['initial']['offset'])}; status {res['status']}", ""]
    head = ("step", "SMM tr S", "linear tr S", "SMM |e|", "linear |e|", "SMM tr S+|e|^2",
            "linear tr S+|e|^2")
    keys = ("smm_spread", "linear_spread", "smm_offset", "linear_offset", "smm_second_moment",
            "linear_second_moment")
    table = [head] + [(str(r["step"]),) + tuple(fmt(r[k], 6) for k in keys) for r in res["checkpoints"]]
    widths = [max(len(row[c]) for row in table) for c in range(len(head))]
    for row in table:
        lines.append("  " + "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    lines.append("")
    half = cf["half_life"]
    lines.append(f"  1/k half-life k_half: {fmt(half)}"
                 + ("" if not np.isfinite(half) else
                    (" (quasi-static: holds)" if cf["half_life_quasi_static"]
                     else " (k_half <= 20 / (eta_d lam): not quasi-static, indicative only)"))
                 + ("" if np.isfinite(half) else " (needs matched mass and lam > 0)"))
    st = cf["stationary_spread"]
    lines.append(f"  stationary spread tr S_inf: {fmt(st)}"
                 + ("" if np.isfinite(st) else " (needs excess generated mass, delta < 0)"))
    return "\n".join(lines)


def run(args) -> int:
    from .inputs import load_scenario

    scenario = load_scenario(args.scenario)
    res = compute(scenario, steps=args.steps, start=args.start)
    print(dumps(res) if args.json else format_report(res))
    return 0


def register(subparsers) -> None:
    sp = subparsers.add_parser(
        "smm", help="second-moment model next to the linear model for a one-true-point scenario",
        description="Run the second-moment model (theory section 9) from the generated points of a "
                    "scenario with one true point and equal generated weights, next to the linear "
                    "model, and print the spread and offset at a few steps and the closed forms.")
    sp.add_argument("scenario", metavar="SCENARIO.toml", help="scenario file (see kernelgda.scenario)")
    sp.add_argument("--steps", type=positive_int, default=1000, help="number of steps (default 1000)")
    sp.add_argument("--start", choices=("equilibrium", "zero"), default="equilibrium",
                    help="discriminator start: the isolated fixed point's f* (default) or f0 = 0")
    sp.add_argument("--json", action="store_true", help="print JSON instead of a report")
    sp.set_defaults(func=run)
