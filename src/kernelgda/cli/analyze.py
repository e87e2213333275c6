"""``kernelgda analyze SCENARIO.toml``: fixed point, spectrum, rate and regime of a scenario.

Loads a scenario file (layout in :mod:`kernelgda.scenario`), finds the fixed
point by Newton's method from the scenario's generated points
(:func:`kernelgda.find_equilibrium`), linearizes GDA there
(:func:`kernelgda.linearize`, theory section 4) and prints the fixed point, the
spectrum of the Jacobian sorted by modulus with the visibility of each
eigenvalue to the generator, the generator-visible rate, the spectral radius and
the regime (theory section 6), and names the fixed point for what it is
(:func:`kernelgda.linearize.fixed_point_kind`: perfect fit, fit, partial fit, mode
collapse or spurious, with which generated points share which true point, which true
points have no generated mass, and whether it is stable, i.e. a local minimum; theory
sections 3 and 10).

``--check`` also checks the prediction against the exact nonlinear dynamics
(:func:`kernelgda.check_rate`: a run from ``(f*, Y* + e0)`` with ``|e0| = 1e-6 sigma``
in a random direction drawn from ``default_rng(seed)``, the dominant eigenvalue
measured from it, theory section 7, experiment 1) and prints predicted and measured
values side by side. The measured regime is classified with tolerance
:data:`kernelgda.check.MEASURED_TOL` ``= 1e-3`` rather than the default ``1e-6``
(reasons in :mod:`kernelgda.check`).

``--max-memory SIZE`` (``4G``, ``512M``; :func:`kernelgda.resources.parse_size`) is the
limit on the memory a scenario's point sets and fixed-point solve may need
(:func:`kernelgda.scenario.load_scenario`; default: half the available memory).

Exit codes: 0 on success, 1 when Newton finds no fixed point (status ``not_converged``,
or ``vanishing_gradient`` for a stall far from the data), 2 on bad input.
"""

from __future__ import annotations

import math

import numpy as np

from .rates import dumps, fmt, int_at_least, positive_int

__all__ = ["register", "run", "analyze", "format_report"]

#: Table rows of the spectrum shown (JSON always has all of them).
MAX_ROWS = 24


def analyze(scenario, *, check: bool = False, steps: int | None = None, seed: int = 0) -> dict:
    """Fixed point, linearization and (optionally) the simulation check, as a plain dict.

    Returns ``{"converged": False, ...}`` without a linearization when Newton fails.
    """
    import kernelgda as kg
    from kernelgda.linearize import require_smooth

    gan, gda = scenario.gan, scenario.gda
    require_smooth(gan.kernel)  # the same refusal as `kernelgda phase --method linearize`
    eq = kg.find_equilibrium(gan, scenario.y0, scenario.q)
    out = {"scenario": scenario.name, "parameters": scenario.params(),
           "fixed_point": {"converged": bool(eq.converged), "status": eq.status.label,
                           "message": eq.message,
                           "iterations": int(eq.iterations), "residual": float(eq.residual),
                           "y": eq.y, "q": eq.q}}
    if not eq.converged:
        return out
    lin = kg.linearize(gan, eq, gda)
    mods = np.abs(lin.eigenvalues)  # one modulus for sorting and printing (abs() may differ by an ulp)
    order = np.argsort(-mods, kind="stable")
    visible = np.zeros(lin.eigenvalues.shape, dtype=bool)
    visible[: lin.visible.size] = lin.visible  # augmented states (optimistic, momentum) may be longer
    out["linearization"] = {
        "size": int(lin.matrix.shape[0]), "num_locations": int(lin.num_locations),
        "spectrum": [{"eigenvalue": complex(lin.eigenvalues[i]), "modulus": float(mods[i]),
                      "visible": bool(visible[i])} for i in order],
        "dominant": complex(lin.dominant), "generator_rate": float(lin.generator_rate),
        "spectral_radius": float(lin.spectral_radius), "regime": lin.regime, "regime_tol": lin.tol,
    }
    kind = lin.kind
    out["fixed_point"]["kind"] = {
        "kind": kind.kind, "description": kind.description, "stable": kind.stable,
        "local_minimum": kind.local_minimum, "owner": [int(i) for i in kind.owner],
        "empty": list(kind.empty), "unassigned": list(kind.unassigned),
        "shared": [{"true_point": i, "generated_points": list(js)} for i, js in kind.shared],
    }
    if check:
        from ..check import E0_SCALE

        res = kg.check_rate(gan, eq, gda, num_steps=steps, seed=seed, e0_scale=E0_SCALE,
                            linearization=lin)
        rate = res.measured_rate
        out["check"] = {
            "steps": int(res.num_steps), "seed": int(seed),
            "perturbation": E0_SCALE * gan.kernel.length_scale, "status": str(res.status),
            "message": res.message, "window": list(res.measured.window),
            "predicted_rate": res.predicted_rate, "measured_rate": rate,
            "difference": res.difference if math.isfinite(rate) else float("nan"),
            "predicted_dominant": complex(lin.dominant),
            "measured_dominant": complex(res.measured.dominant),
            "predicted_regime": lin.regime, "measured_regime": res.measured_regime,
            "measured_regime_tol": res.tol,
        }
    return out


def format_report(res: dict, path: str | None = None) -> str:
    """The human-readable report of :func:`analyze`'s result."""
    par = res["parameters"]
    fp = res["fixed_point"]
    kernel = par["kernel"] + "".join(
        f" {key} = " + (", ".join(map(fmt, par[key])) if isinstance(par[key], list) else fmt(par[key]))
        for key in ("sigma", "alpha", "depth", "bias", "sigmas", "scale_weights") if key in par)
    mode = par["mode"] + (f" (d_steps = {par['d_steps']})" if par.get("d_steps", 1) != 1 else "") + (
        f" (beta = {fmt(par['beta'])})" if par.get("beta", 0) else "")
    lines = [f"scenario {res['scenario']}" + (f" ({path})" if path else ""),
             f"  kernel {kernel}, lam = {fmt(par['lam'])}, eta_d = {fmt(par['eta_d'])}, "
             f"eta_g = {fmt(par['eta_g'])}, mode {mode}",
             f"  m = {par['m']} true and n = {par['n']} generated points in d = {par['d']}", "",
             f"fixed point: {fp['message']}"]
    for j, (y, q) in enumerate(zip(fp["y"][:MAX_ROWS], fp["q"][:MAX_ROWS], strict=True)):
        coords = ", ".join(fmt(v, 8) for v in y)
        lines.append(f"  y*_{j} = ({coords})  q = {fmt(q)}")
    if len(fp["y"]) > MAX_ROWS:
        lines.append(f"  ... {len(fp['y']) - MAX_ROWS} more (see --json)")
    if "linearization" not in res:
        return "\n".join(lines)
    lin = res["linearization"]
    spec = lin["spectrum"]
    lines += ["", f"spectrum of J ({lin['size']} x {lin['size']}, {lin['num_locations']} distinct "
                  "locations), by modulus:",
              f"  {'#':>3}  {'eigenvalue':<34} {'|z|':<14} visible"]
    for i, row in enumerate(spec[:MAX_ROWS]):
        lines.append(f"  {i:>3}  {fmt(row['eigenvalue']):<34} {fmt(row['modulus']):<14} "
                     f"{'yes' if row['visible'] else 'no'}")
    if len(spec) > MAX_ROWS:
        lines.append(f"  ... {len(spec) - MAX_ROWS} more (see --json)")
    lines += ["", f"dominant eigenvalue     {fmt(lin['dominant'])}",
              f"generator-visible rate  {fmt(lin['generator_rate'])}",
              f"spectral radius         {fmt(lin['spectral_radius'])}",
              f"regime                  {lin['regime']} (tol {lin['regime_tol']:g})",
              "", fp["kind"]["description"]]
    if "check" in res:
        c = res["check"]
        predicted_regime = f"{c['predicted_regime']} (tol {lin['regime_tol']:g})"
        lines += ["", f"check: exact simulation from (f*, Y* + e0), |e0| = {fmt(c['perturbation'], 3)} "
                      f"(seed {c['seed']}), {c['steps']} steps: {c['message']}",
                  f"  fitted window: steps {c['window'][0]} to {c['window'][1] - 1}",
                  f"  {'':<18}{'predicted':<34}measured",
                  f"  {'rate':<18}{fmt(c['predicted_rate']):<34}{fmt(c['measured_rate'])}",
                  f"  {'dominant':<18}{fmt(c['predicted_dominant']):<34}{fmt(c['measured_dominant'])}",
                  f"  {'regime':<18}{predicted_regime:<34}"
                  f"{c['measured_regime']} (tol {c['measured_regime_tol']:g})",
                  f"  |rate difference| {fmt(c['difference'], 3)}"]
    return "\n".join(lines)


def run(args) -> int:
    import sys

    from .inputs import load_scenario

    scenario = load_scenario(args.scenario, max_memory=args.max_memory)
    res = analyze(scenario, check=args.check, steps=args.steps, seed=args.seed)
    print(dumps(res) if args.json else format_report(res, str(args.scenario)))
    if not res["fixed_point"]["converged"]:
        print(f"kernelgda: {res['fixed_point']['status']}: no fixed point found from the generated "
              f"points of {args.scenario}: {res['fixed_point']['message']}", file=sys.stderr)
        return 1
    return 0


def register(subparsers) -> None:
    sp = subparsers.add_parser(
        "analyze", help="fixed point, spectrum, rate and regime of a scenario file",
        description="Find the fixed point of a scenario (TOML), linearize GDA there and print the "
                    "spectrum, the generator-visible rate and the regime; --check compares with the "
                    "exact simulation.")
    sp.add_argument("scenario", metavar="SCENARIO.toml", help="scenario file (see kernelgda.scenario)")
    sp.add_argument("--json", action="store_true", help="print JSON instead of a report")
    sp.add_argument("--check", action="store_true",
                    help="also simulate from a 1e-6 sigma perturbation and compare the measured rate")
    sp.add_argument("--steps", type=positive_int, default=None,
                    help="simulation steps for --check (default: from the predicted rate, 200..4000)")
    sp.add_argument("--seed", type=int_at_least(0), default=0,
                    help="seed of the perturbation direction (default 0)")
    sp.add_argument("--max-memory", type=memory_size, default=None, metavar="SIZE",
                    help="memory limit for the scenario's points and fixed-point solve, e.g. 4G or "
                         "512M (default: half the available memory)")
    sp.set_defaults(func=run)


def memory_size(text: str) -> int:
    """argparse type: a size such as ``4G`` or ``512M`` in bytes (:func:`kernelgda.resources.parse_size`)."""
    import argparse

    from ..resources import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
