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

``--all`` lists every fixed point instead (:func:`kernelgda.fixed_points`: Newton from the
scenario's generated points, from structured starts on every true point and from ``--starts``
random ones drawn with ``--seed``; theory sections 3, 9, 10), one row each, stable entries
(local minima of the scenario's GDA) first, with the starts that gave no fixed point counted.

Exit codes: 0 on success, 1 when Newton finds no fixed point (status ``not_converged``,
or ``vanishing_gradient`` for a stall far from the data; with ``--all``: from no start), 2 on
bad input.
"""

from __future__ import annotations

import math

import numpy as np

from .rates import dumps, fmt, int_at_least, positive_int

__all__ = ["register", "run", "analyze", "format_report", "analyze_all", "format_catalogue"]

#: Table rows of the spectrum shown (JSON always has all of them).
MAX_ROWS = 24
#: Generated points shown per catalogue row, and the width of its kind column (JSON always has
#: all of them, in full).
MAX_POINTS = 4
MAX_LABEL = 40


def analyze(scenario, *, check: bool = False, steps: int | None = None, seed: int = 0) -> dict:
    """Fixed point, linearization and (optionally) the simulation check, as a plain dict.

    Returns ``{"converged": False, ...}`` without a linearization when Newton fails.
    """
    import kernelgda as kg
    from kernelgda.linearize import require_smooth

    gan, gda = scenario.gan, scenario.gda
    require_smooth(gan.kernel)  # the same refusal as `kernelgda phase --method linearize`
    gen = getattr(scenario, "generator", None)
    eq = kg.find_equilibrium(gan, scenario.y0 if gen is None else gen, scenario.q)
    out = {"scenario": scenario.name, "parameters": scenario.params(),
           "fixed_point": {"converged": bool(eq.converged), "status": eq.status.label,
                           "message": eq.message,
                           "iterations": int(eq.iterations), "residual": float(eq.residual),
                           "y": eq.y, "q": eq.q}}
    if gen is not None:
        out["generator"] = {"kind": type(gen).__name__, "num_params": int(gen.num_params),
                            "gradient_kind": eq.gradient_kind, "theta": eq.theta}
    if not eq.converged:
        return out
    lin = kg.linearize(gan, eq, gda)
    if gen is not None:
        out["generator"].update(_generator_report(gan, gda, eq, lin))
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


def _generator_report(gan, gda, eq, lin) -> dict:
    """The generator tangent kernel's spectrum at ``theta*`` and the rates (theory section 12)."""
    import kernelgda as kg

    spectrum = np.sort(np.linalg.eigvalsh(lin.jacobian @ lin.jacobian.T))[::-1]
    positive = spectrum[spectrum > kg.generator_rates.RANGE_TOL * spectrum[0]]
    out = {"tangent_kernel_spectrum": spectrum, "rank": int(positive.size),
           "condition_number": float(positive[0] / positive[-1]), "num_neutral": int(lin.neutral.sum())}
    a = gda.eta_d * gan.lam
    if 0 < a < 1:
        out["band_ratio"] = float(kg.generator_rates.band_ratio(gda.eta_d, gan.lam))
    if eq.gradient_kind == "perfect-gradient":  # the same points as a point-model fixed point
        point_eq = kg.find_equilibrium(gan, eq.y, eq.q)
        if point_eq.converged:
            out["point_model_rate"] = float(kg.linearize(gan, point_eq, gda).generator_rate)
    return out


def format_report(res: dict, path: str | None = None) -> str:
    """The human-readable report of :func:`analyze`'s result."""
    par = res["parameters"]
    fp = res["fixed_point"]
    kernel = par["kernel"] + "".join(
        f" {key} = " + (", ".join(map(fmt, par[key])) if isinstance(par[key], list)
                        else par[key] if isinstance(par[key], str) else fmt(par[key]))
        for key in ("sigma", "alpha", "depth", "bias", "sigmas", "scale_weights", "activation", "sigma_w",
                    "sigma_b") if key in par)
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
    if "generator" in res:
        g = res["generator"]
        lines += ["", f"generator: {g['kind']} with {g['num_params']} parameters; fixed point "
                      f"{g['gradient_kind']} (theory section 12)"]
        if "tangent_kernel_spectrum" in g:
            top = ", ".join(fmt(v, 4) for v in g["tangent_kernel_spectrum"][:8])
            more = " ..." if len(g["tangent_kernel_spectrum"]) > 8 else ""
            lines += [f"  tangent kernel Theta = J J^T: eigenvalues {top}{more}",
                      f"  rank {g['rank']}, condition number {fmt(g['condition_number'], 4)}"
                      + (f" (complex-band ratio {fmt(g['band_ratio'], 4)})" if "band_ratio" in g else ""),
                      f"  reparametrization modes (J t = 0, eigenvalue 1, not visible): {g['num_neutral']}"]
            if "point_model_rate" in g:
                lines.append(f"  point model at the same points: rate {fmt(g['point_model_rate'])}")
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


def analyze_all(scenario, *, num_random: int | None = None, seed: int = 0, max_memory=None) -> dict:
    """Every fixed point of a scenario (:func:`kernelgda.fixed_points`), as a plain dict."""
    import kernelgda as kg
    from kernelgda.catalogue.search import NUM_RANDOM

    cat = kg.fixed_points(scenario.gan, scenario.q, gda=scenario.gda, starts=scenario.y0,
                          num_random=NUM_RANDOM if num_random is None else num_random, seed=seed,
                          max_memory=max_memory)
    rows = []
    for i, e in enumerate(cat):
        k = e.kind
        rows.append({"index": i, "label": e.label, "kind": k.kind, "description": e.description,
                     "stable": e.stable, "spectral_radius": e.spectral_radius, "mmd2": e.mmd2,
                     "count": e.count, "sources": e.sources, "residual": e.residual, "y": e.y, "q": e.q,
                     "owner": [int(o) for o in k.owner], "empty": list(k.empty),
                     "unassigned": list(k.unassigned),
                     "shared": [{"true_point": t, "generated_points": list(js)} for t, js in k.shared]})
    return {"scenario": scenario.name, "parameters": scenario.params(),
            "catalogue": {"status": cat.status.label, "message": cat.message, "seed": cat.seed,
                          "num_starts": cat.num_starts, "sources": cat.sources,
                          "failures": cat.failures, "num_stable": len(cat.stable)},
            "fixed_points": rows}


def _points(y) -> str:
    shown = ["(" + ", ".join(fmt(v, 5) for v in row) + ")" for row in y[:MAX_POINTS]]
    return " ".join(shown) + (f" ... {len(y) - MAX_POINTS} more" if len(y) > MAX_POINTS else "")


def format_catalogue(res: dict, path: str | None = None) -> str:
    """The table of :func:`analyze_all`'s result: one row per fixed point, stable ones first."""
    par, cat = res["parameters"], res["catalogue"]
    sources = ", ".join(f"{k} {v}" for k, v in cat["sources"].items())
    lines = [f"scenario {res['scenario']}" + (f" ({path})" if path else ""),
             f"  kernel {par['kernel']}, lam = {fmt(par['lam'])}, eta_d = {fmt(par['eta_d'])}, "
             f"eta_g = {fmt(par['eta_g'])}, mode {par['mode']}",
             f"  m = {par['m']} true and n = {par['n']} generated points in d = {par['d']}", "",
             f"{cat['message']}", f"  starts: {sources} (random ones drawn with seed {cat['seed']})", ""]
    if not res["fixed_points"]:
        return "\n".join(lines)
    width = min(max(len(r["label"]) for r in res["fixed_points"]), MAX_LABEL)
    lines.append(f"  {'#':>3}  {'kind':<{width}}  {'stable':<6}  {'radius':<12}  {'MMD^2':<12}  "
                 f"{'starts':>6}  points")
    for r in res["fixed_points"]:
        stable = "-" if r["stable"] is None else ("yes" if r["stable"] else "no")
        label = r["label"] if len(r["label"]) <= width else r["label"][:width - 3] + "..."
        lines.append(f"  {r['index']:>3}  {label:<{width}}  {stable:<6}  "
                     f"{fmt(r['spectral_radius'], 8):<12}  {fmt(r['mmd2'], 6):<12}  {r['count']:>6}  "
                     f"{_points(r['y'])}")
    lines += ["", "stable = spectral radius of the linearized GDA below 1: a local minimum (theory "
                  "sections 4, 10)"]
    return "\n".join(lines)


def run(args) -> int:
    import sys

    from .inputs import load_scenario

    if args.all and (args.check or args.steps is not None):
        raise ValueError("--check and --steps check one fixed point; they do not combine with --all")
    if args.starts is not None and not args.all:
        raise ValueError("--starts sets the random starts of --all; add --all")
    scenario = load_scenario(args.scenario, max_memory=args.max_memory)
    if args.all:
        res = analyze_all(scenario, num_random=args.starts, seed=args.seed, max_memory=args.max_memory)
        print(dumps(res) if args.json else format_catalogue(res, str(args.scenario)))
        if not res["fixed_points"]:
            print(f"kernelgda: no fixed point found from {res['catalogue']['num_starts']} starts for "
                  f"{args.scenario}: {res['catalogue']['message']}", file=sys.stderr)
            return 1
        return 0
    res = analyze(scenario, check=args.check, steps=args.steps, seed=args.seed)
    print(dumps(res) if args.json else format_report(res, str(args.scenario)))
    if not res["fixed_point"]["converged"]:
        print(f"kernelgda: {res['fixed_point']['status']}: no fixed point found from the generated "
              f"points of {args.scenario}: {res['fixed_point']['message']}", file=sys.stderr)
        return 1
    return 0


def register(subparsers) -> None:
    sp = subparsers.add_parser(
        "analyze", help="fixed point (or, with --all, every fixed point), spectrum, rate and regime of a "
             "scenario file",
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
                    help="seed of the perturbation direction, or of the random starts of --all "
                         "(default 0)")
    sp.add_argument("--all", action="store_true",
                    help="list every fixed point (Newton from many starts), stable ones first")
    sp.add_argument("--starts", type=int_at_least(0), default=None, metavar="N",
                    help="random starts of --all around the true points (default 16)")
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
