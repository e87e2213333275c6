"""Probe suite, bad input (issue 20, classes 1, 4 and 5): every library boundary refuses values
that are not real numbers, integers beyond float64 and arguments the command line refuses, with a
one-line ``ValueError`` naming the argument; never an ``OverflowError``, ``AttributeError`` or a
silent conversion. The oracle of each probe is the rule itself: the call must raise a
``ValueError`` whose single line names the argument given."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.phase.run import check_runner
from kernelgda.rules import stability_region

HUGE = 10**400  # a Python int beyond the float64 range


def _gan(**kw):
    args = {"x_true": [[0.0, 0.0]], "p_true": 1.0, "kernel": kg.Gaussian(0.7), "lam": 0.5}
    args.update(kw)
    return kg.KernelGAN(**args)


def _refused(call, *needles):
    with pytest.raises(ValueError) as info:
        call()
    msg = str(info.value)
    assert "\n" not in msg.strip(), f"the refusal must be one line: {msg!r}"
    for needle in needles:
        assert needle in msg, f"the refusal should name {needle!r}: {msg!r}"
    return msg


# -- class 1: integers beyond float64 ------------------------------------------------------------

BEYOND_FLOAT64 = {
    "Gaussian sigma": (lambda: kg.Gaussian(HUGE), "sigma"),
    "RationalQuadratic alpha": (lambda: kg.RationalQuadratic(1.0, alpha=HUGE), "alpha"),
    "NNGP bias": (lambda: kg.NNGP(depth=2, bias=HUGE), "bias"),
    "lam": (lambda: _gan(lam=HUGE), "lam"),
    "lam negative": (lambda: _gan(lam=-HUGE), "lam"),
    "true point": (lambda: _gan(x_true=[[HUGE, 0]]), "x_true"),
    "true weight": (lambda: _gan(p_true=[HUGE]), "p_true"),
    "eta_d": (lambda: kg.GDA(HUGE, 0.1), "eta_d"),
    "generated point": (lambda: kg.simulate(_gan(), kg.GDA(0.1, 0.1), [[HUGE, 0]], 1.0, 2), "y"),
    "isolated sigma": (lambda: kg.isolated.eigenvalues(p=1, q=1, n=1, eta_d=0.1, eta_g=0.1, lam=0.5,
                                                       sigma=HUGE), "sigma"),
    "phase axis": (lambda: kg.phase_diagram({"sigma": [0.5, HUGE]}, {"eta_d": 0.1, "eta_g": 0.1,
                                                                     "lam": 0.5}), "sigma"),
    "classify": (lambda: kg.classify([HUGE]), "z"),
}


@pytest.mark.parametrize("case", sorted(BEYOND_FLOAT64))
def test_integers_beyond_float64_are_refused_by_name(case):
    call, name = BEYOND_FLOAT64[case]
    msg = _refused(call, name)
    assert len(msg) < 300, f"a 400-digit integer must not be printed in full: {len(msg)} characters"


# -- class 4: real numbers only, in arrays as in scalars ----------------------------------------

NOT_REAL = {
    "str": [["0", "0"]],
    "bytes": [[b"0", b"0"]],
    "datetime": np.array([["2020-01-01", "2020-01-02"]], dtype="datetime64[D]"),
    "mixed object": np.array([[0.0, "0.1"]], dtype=object),
    "python datetime": np.array([[datetime.date(2020, 1, 1), 0.0]], dtype=object),
    "complex": [[0.1 + 1j, 0.0]],
}

ARRAY_BOUNDARIES = {
    "KernelGAN x_true": (lambda v: _gan(x_true=v), "x_true"),
    "KernelGAN p_true": (lambda v: _gan(p_true=np.asarray(v, dtype=object).ravel()[:1]), "p_true"),
    "simulate y0": (lambda v: kg.simulate(_gan(), kg.GDA(0.1, 0.1), v, 1.0, 2), "y"),
    "simulate q": (lambda v: kg.simulate(_gan(), kg.GDA(0.1, 0.1), [[0.1, 0.0]],
                                         np.asarray(v, dtype=object).ravel()[:1], 2), "q"),
    "wasserstein2 y": (lambda v: kg.wasserstein2(v, 1.0, [[0.0, 0.0]], 1.0), "y"),
    "phase_diagram axis": (lambda v: kg.phase_diagram({"sigma": np.asarray(v, dtype=object).ravel()},
                                                      {"eta_d": 0.1, "eta_g": 0.1, "lam": 0.5}), "sigma"),
    "Multiscale sigmas": (lambda v: kg.Multiscale(np.asarray(v, dtype=object).ravel()), "sigmas"),
    "classify": (lambda v: kg.classify(np.asarray(v, dtype=object).ravel()), "z"),
}


@pytest.mark.parametrize(("where", "kind"), [  # eigenvalues are complex: classify takes them
    (w, k) for w in sorted(ARRAY_BOUNDARIES) for k in sorted(NOT_REAL) if (w, k) != ("classify", "complex")])
def test_arrays_refuse_what_is_not_a_real_number(where, kind):
    call, name = ARRAY_BOUNDARIES[where]
    _refused(lambda: call(NOT_REAL[kind]), name)


@pytest.mark.parametrize("value", ["0.1", b"0.1", "1e400"])
@pytest.mark.parametrize("make", [lambda v: kg.Gaussian(v), lambda v: kg.Multiscale(v),
                                  lambda v: kg.GDA(v, 0.1), lambda v: _gan(lam=v)],
                         ids=["Gaussian", "Multiscale", "GDA", "lam"])
def test_scalars_and_arrays_share_one_rule(make, value):
    _refused(lambda: make(value))


def test_real_arrays_still_pass():
    """The rule refuses what is not a number, nothing else: ints, floats and NumPy
    scalars in object arrays are accepted, with the values unchanged (oracle: the literals)."""
    gan = _gan(x_true=np.array([[1, 2.5]], dtype=object), p_true=[np.float32(0.5)])
    np.testing.assert_allclose(gan.x_true, [[1.0, 2.5]], rtol=0, atol=0,
                               err_msg="literals [[1, 2.5]] as float64")
    labels = kg.classify(np.array([0.5 + 0.9j, 0.4j, 1], dtype=object)).tolist()
    assert labels == ["divergent", "oscillatory", "neutral"], f"|z| = 1.03, 0.4, 1 (section 6): {labels}"


# -- class 5: what the command line refuses, the library refuses -----------------------------

LIBRARY_REFUSALS = {
    "phase_diagram workers=0": (lambda: kg.phase_diagram({"sigma": [0.5]}, {"eta_d": 0.1, "eta_g": 0.1,
                                                                          "lam": 0.5}, workers=0),
                                "workers"),
    "phase_diagram workers=-2": (lambda: check_runner(None, -2), "workers"),
    "phase_diagram workers=1.5": (lambda: check_runner(None, 1.5), "workers"),
    "phase_diagram client=str": (lambda: kg.phase_diagram({"sigma": [0.5]}, {"eta_d": 0.1, "eta_g": 0.1,
                                                                           "lam": 0.5},
                                                          client="tcp://127.0.0.1:1"), "client"),
    "phase_diagram client=object": (lambda: check_runner(object(), None), "client"),
    "classify tol=-1": (lambda: kg.classify(0.5, tol=-1), "tol"),
    "classify tol=nan": (lambda: kg.classify(0.5, tol=float("nan")), "tol"),
    "classify 'x'": (lambda: kg.classify("x"), "z"),
    "stability_region num=0": (lambda: stability_region("simultaneous", num=0), "num"),
    "stability_region num=2.5": (lambda: stability_region("simultaneous", num=2.5), "num"),
}


@pytest.mark.parametrize("case", sorted(LIBRARY_REFUSALS))
def test_library_refuses_what_the_cli_refuses(case):
    call, name = LIBRARY_REFUSALS[case]
    _refused(call, name)


# -- class 12: memory and loops sized from an argument are estimated first ------------------

SIZED_FIRST = {
    "random features in simulate": (lambda: kg.simulate(_gan(), kg.GDA(0.1, 0.1), [[0.1, 0.0]], 1.0, 2,
                                                        discriminator=kg.RandomFeatures(10**13)),
                                    "random features"),
    "random features over max_memory": (lambda: kg.simulate(_gan(), kg.GDA(0.1, 0.1), [[0.1, 0.0]], 1.0, 2,
                                                            discriminator=kg.RandomFeatures(10**6),
                                                            max_memory="1M"), "random features"),
    "random features 1e12": (lambda: kg.RandomFeatures(10**12).sample(kg.Gaussian(1.0), 3),
                             "random features"),
    "fall_steps 1e5 x 1e5": (lambda: kg.smm.fall_steps(kg.Gaussian(0.7), p=np.ones(10**5), q=0.125, n=8,
                                                        lam=np.ones((10**5, 1)), gda=kg.GDA(0.1, 2.0),
                                                        e0=[0.0], cov0=[[0.01]], num_steps=5,
                                                        factors=[10.0]), "fall_steps grid"),
    "stability_region 1e12": (lambda: stability_region("simultaneous", num=10**12), "stability_region"),
    "stability_region 1e15 momentum": (lambda: stability_region("momentum", beta=0.3, num=10**15),
                                       "stability_region"),
    "multiscale 1001 scales": (lambda: kg.Multiscale(np.linspace(0.1, 2.0, 1001)), "sigmas"),
    "nngp depth 101": (lambda: kg.NNGP(depth=101), "depth"),
}


@pytest.mark.parametrize("case", sorted(SIZED_FIRST))
def test_sizes_and_loops_are_checked_before_the_work(case):
    import tracemalloc

    call, name = SIZED_FIRST[case]
    tracemalloc.start()
    try:
        _refused(call, name)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 10**6, f"refused before allocating: peak {peak / 1e6:.0f} MB"


@pytest.mark.parametrize("argv", [["--axis", "sigma=0.1:1:1e8"], ["--axis", "sigma=0.1:1:1e8:log"],
                                  ["--axis", "sigma=0.1:1:1e4", "--axis", "lam=0:1:1e4"],
                                  ["--axis", "sigma=0.1:1:1e6", "--format", "zarr"]])
def test_cli_axes_are_sized_before_they_are_built(capsys, tmp_path, argv):
    import tracemalloc

    from kernelgda.cli import main

    tracemalloc.start()
    try:
        # an explicit limit: with the default (half the free memory) a big machine would run it
        code = main(["phase"] + argv + ["--set", "eta_d=0.1", "--set", "eta_g=0.1", "--set", "lam=0.5",
                                        "--max-memory", "1M", "--out", str(tmp_path / "o")])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert code == 2 and "needs" in err and "\n" not in err.strip(), err
    assert peak < 50 * 10**6, f"refused before building the axis: peak {peak / 1e6:.0f} MB"
    assert not (tmp_path / "o").exists()
