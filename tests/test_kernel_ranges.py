"""Kernel parameters and coordinates at the float64 extremes (issue 10).

Kernels refuse parameters outside ``[PARAM_MIN, PARAM_MAX]`` and point sets refuse
coordinates beyond ``COORD_MAX`` with a one-line ``ValueError`` naming the parameter;
inside, values and derivatives are finite and computed without a warning (pytest turns
warnings into errors, and ``strict_float`` turns NumPy overflow, division by zero and
invalid operations into errors). Through ``kernelgda analyze`` a one-point scenario ends
with exit code 0 or 1, or with one line on stderr and exit code 2: never a traceback.
"""

from __future__ import annotations

import contextlib
import io
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kernelgda as kg
from kernelgda.cli import main
from kernelgda.kernels import MAX_DEPTH, PARAM_MAX, PARAM_MIN

pytestmark = pytest.mark.usefixtures("strict_float")


def _log_uniform(lo, hi):
    return st.floats(min_value=lo, max_value=hi).map(lambda e: float(10.0**e))


def _scale():
    """Anywhere in float64, near the accepted range's edges, or moderate."""
    return st.one_of(_log_uniform(-320, 308), _log_uniform(-55, -45), _log_uniform(45, 55),
                     _log_uniform(-2, 2))


def _signed(values):
    return st.tuples(st.sampled_from((-1.0, 1.0)), values).map(lambda t: t[0] * t[1])


@st.composite
def kernels(draw, kinds=("gaussian", "rational_quadratic", "laplacian", "nngp")):
    kind = draw(st.sampled_from(kinds))
    if kind == "nngp":
        return kind, {"depth": draw(st.one_of(st.integers(1, 4), st.integers(1, 10**7))),
                      "bias": draw(st.one_of(st.just(0.0), _scale()))}
    params = {"sigma": draw(_scale())}
    if kind == "rational_quadratic":
        params["alpha"] = draw(_scale())
    return kind, params


def _in_range(kind, params) -> bool:
    if kind == "nngp":
        return params["depth"] <= MAX_DEPTH and (params["bias"] == 0
                                                  or PARAM_MIN <= params["bias"] <= PARAM_MAX)
    return all(PARAM_MIN <= v <= PARAM_MAX for v in params.values())


coordinates = st.one_of(st.just(0.0), _signed(_scale()))


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kernel=kernels(), x=coordinates, offset=coordinates, d=st.integers(1, 2))
def test_analyze_one_point_scenario_never_tracebacks(kernel, x, offset, d):
    kind, params = kernel
    kernel_toml = "".join(f"{k} = {v!r}\n" for k, v in params.items())
    text = (f"lam = 0.5\n[true]\npoints = [{[x] * d!r}]\n[generated]\non_true = true\n"
            f"offset = {offset!r}\n[kernel]\nkind = \"{kind}\"\n{kernel_toml}"
            "[gda]\neta_d = 0.1\neta_g = 0.1\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "one.toml"
        path.write_text(text)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["analyze", str(path), "--json"])
    lines = err.getvalue().splitlines()
    if code == 2:
        assert out.getvalue() == "" and len(lines) == 1 and lines[0].startswith("kernelgda: error: ")
    else:
        assert code in (0, 1) and out.getvalue().startswith("{")
        assert len(lines) == (code == 1)
    if not _in_range(kind, params):  # refused (for the parameter, or first for the points)
        assert code == 2 and any(word in lines[0] for word in ("sigma", "alpha", "depth", "bias",
                                                               "coordinate")), lines


@settings(max_examples=200, deadline=None)
@given(kernel=kernels(("gaussian", "rational_quadratic", "laplacian", "nngp", "multiscale")),
       u=_signed(_scale()), v=coordinates, d=st.integers(1, 3))
def test_kernel_evaluations_are_finite_or_refused(kernel, u, v, d):
    kind, params = kernel
    if kind == "multiscale":
        params = {"sigmas": (params["sigma"], 1.0), "scale_weights": (params["sigma"], 1.0)}
    try:
        k = kg.make_kernel(kind, **params)
    except ValueError as exc:
        assert "\n" not in str(exc)
        assert not (_in_range(kind, params) if kind != "multiscale"
                    else all(PARAM_MIN <= s <= PARAM_MAX for s in params["sigmas"]))
        return
    assert kind == "multiscale" or _in_range(kind, params)
    pts_u = np.full((1, d), u)
    # Each evaluation at a separate and at a coincident pair. The Laplacian refuses second
    # derivatives at coincident points (and a Hessian ~ 1 / (sigma |u - v|) beyond float64),
    # the NNGP kernel with bias 0 points within 1e-50 of the origin: one-line ValueErrors.
    for pts_v in (np.full((1, d), v), pts_u):
        for method in (k, k.grad, k.hessian, k.mixed):
            try:
                res = method(pts_u, pts_v)
            except ValueError as exc:
                assert "\n" not in str(exc)
                continue
            assert np.all(np.isfinite(res))
    if k.radial:
        assert math.isfinite(k.grad_bound) and k.grad_bound > 0
        if k.smooth:
            assert math.isfinite(k.curvature) and k.curvature > 0


@pytest.mark.parametrize("kind, params, name", [
    ("gaussian", {"sigma": 1e308}, "sigma"), ("gaussian", {"sigma": 1e-200}, "sigma"),
    ("rational_quadratic", {"sigma": 1.0, "alpha": 1e-300}, "alpha"),
    ("laplacian", {"sigma": 1e51}, "sigma"), ("multiscale", {"sigmas": (1.0, 1e-60)}, "sigmas"),
    ("multiscale", {"sigmas": (1.0,), "scale_weights": (1e60,)}, "scale_weights"),
    ("nngp", {"depth": 10**6}, "depth"), ("nngp", {"bias": 1e-60}, "bias"),
])
def test_out_of_range_parameters_are_refused(kind, params, name):
    with pytest.raises(ValueError, match=name):
        kg.make_kernel(kind, **params)


def test_range_edges_are_accepted_and_exact():
    """At the edges the Gaussian's derivatives are the closed forms (no rounding issue: powers
    of ten squared are exact to 1 ulp): K'' at 0 is 1 / (4 sigma^4) and curvature 1 / sigma^2."""
    for sigma in (PARAM_MIN, PARAM_MAX):
        k = kg.Gaussian(sigma=sigma)
        np.testing.assert_allclose(k.d2profile(np.zeros(1)), 0.25 / sigma**4, rtol=1e-15)
        np.testing.assert_allclose(k.curvature, 1.0 / sigma**2, rtol=1e-15)
    # A large alpha is the Gaussian (the power's base would round to 1): the log1p form keeps it.
    rq = kg.RationalQuadratic(sigma=1.0, alpha=1e40)
    np.testing.assert_allclose(rq([[0.0]], [[1.0]]), np.exp(-0.5), rtol=1e-14)
    np.testing.assert_allclose(rq.grad_bound, math.exp(-0.5), rtol=1e-14)


def test_huge_coordinates_are_refused_with_one_line(tmp_path, capsys):
    f = tmp_path / "far.toml"
    f.write_text("lam = 0.5\n[true]\npoints = [[1e300]]\n[generated]\non_true = true\n"
                 "[kernel]\nsigma = 1.0\n[gda]\neta_d = 0.1\neta_g = 0.1\n")
    assert main(["analyze", str(f)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and "at most 1e+50" in err
