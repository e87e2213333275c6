"""Refusals found by an adversarial probe of the public boundary: each bad request is a
one-line ``ValueError`` naming the argument (exit code 2 on the command line), raised before
anything large is allocated, with no floating-point warning on the way (pytest turns warnings
into errors). The inputs here are chosen independently of the probe's.
"""

from __future__ import annotations

import resource
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kernelgda as kg
from kernelgda import isolated, moments, smm
from kernelgda import resources as R
from kernelgda.cli import main
from kernelgda.clusters import clusters_from_points
from kernelgda.scenario import parse_scenario


def _one_line(exc_info, *needles):
    msg = str(exc_info.value)
    assert "\n" not in msg.strip(), f"the refusal must be one line: {msg!r}"
    for needle in needles:
        assert needle in msg, f"the message should name {needle!r}: {msg!r}"
    return msg


def _gan(sigma=0.7, d=1):
    return kg.KernelGAN(np.zeros((1, d)), 1.0, kg.Gaussian(sigma), 0.4)


# -- the address-space limit (ulimit -v) bounds the default memory limit ----------------------

def test_address_space_left_reads_the_soft_limit(monkeypatch, tmp_path):
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmSize:\t  1000 kB\nVmRSS:\t 10 kB\n", encoding="ascii")
    monkeypatch.setattr(resource, "getrlimit", lambda which: (5_000_000, resource.RLIM_INFINITY))
    assert R.address_space_left(str(status)) == 5_000_000 - 1000 * 1024, "soft limit minus VmSize"
    monkeypatch.setattr(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY,) * 2)
    assert R.address_space_left(str(status)) is None, "no limit: the machine's memory decides"


def test_available_memory_never_exceeds_the_address_space_left(monkeypatch):
    monkeypatch.setattr(R, "address_space_left", lambda: 12345)
    assert R.available_memory() == 12345
    assert R.default_limit() == int(R.DEFAULT_FRACTION * 12345)


def test_ulimit_v_process_refuses_instead_of_memory_error():
    """Under ``ulimit -v 1.5 GB`` a 2.4 GB request is refused in one line, not a MemoryError."""
    cap = 1_500_000_000
    code = ("import numpy as np, kernelgda as kg\n"
            "try:\n"
            "    kg.wasserstein2(np.zeros((20000, 2)), 1.0, np.ones((3000, 2)), 1.0)\n"
            "except ValueError as e:\n"
            "    print('refused', e)\n")
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    env["PYTHONPATH"] = ":".join(p for p in sys.path if p)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env,
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (cap, cap)))
    assert "MemoryError" not in out.stderr, out.stderr[-500:]
    assert out.stdout.startswith("refused wasserstein2 cost matrix: needs"), (out.stdout, out.stderr[-300:])


# -- requests too large for memory: refused before allocating ---------------------------------

@settings(max_examples=8, deadline=None)
@given(num_steps=st.integers(10**12, 10**16), n=st.integers(1, 5), d=st.integers(1, 4))
def test_simulate_refuses_a_history_over_memory(num_steps, n, d):
    gan = _gan(d=d)
    with pytest.raises(ValueError) as info:
        kg.simulate(gan, kg.GDA(0.1, 0.1), np.full((n, d), 0.05), 1.0 / n, num_steps, record_every=num_steps)
    _one_line(info, "needs", "history")


def test_simulate_batch_refuses_over_memory():
    y0 = np.full((4000, 50, 2), 0.05)
    with pytest.raises(ValueError) as info:
        kg.simulate_batch(_gan(d=2), kg.GDA(0.2, 0.3, "simultaneous"), y0, 0.02, 10**7, record_every=10**7)
    _one_line(info, "needs")


def test_gaussian_closure_refuses_over_memory():
    cl = clusters_from_points([[0.2, 0.0], [0.0, 0.3], [-0.1, 0.1]], 1 / 3, x_true=[[0.0, 0.0]])
    with pytest.raises(ValueError) as info:
        moments.gaussian_closure(_gan(d=2), kg.GDA(0.1, 0.2), cl, 5 * 10**13)
    _one_line(info, "Gaussian-closure history", "needs")


@pytest.mark.parametrize("batch", [(), (7,), (3, 5)])
def test_smm_refuses_over_memory(batch):
    e0 = np.full(batch + (3,), 0.02)
    with pytest.raises(ValueError) as info:
        smm.run(kg.Gaussian(0.4), p=1.0, q=0.25, n=4, lam=0.3, gda=kg.GDA(0.05, 0.5), e0=e0,
                cov0=np.eye(3) * 1e-3, num_steps=3 * 10**11)
    _one_line(info, "second-moment model history", "needs")
    with pytest.raises(ValueError) as info:
        smm.run_diagonal(kg.Gaussian(0.4), p=1.0, q=0.25, n=4, lam=0.3, gda=kg.GDA(0.05, 0.5),
                         variances0=np.full(batch + (2,), 1e-3), num_steps=10**14)
    _one_line(info, "needs")


def test_find_equilibrium_refuses_dense_blocks_over_memory():
    gan = kg.KernelGAN([[0.0, 0.0, 0.0]], 1.0, kg.RationalQuadratic(0.5, 2.0), 0.2)
    with pytest.raises(ValueError) as info:
        kg.find_equilibrium(gan, np.zeros((250_000, 3)), 4e-6)
    _one_line(info, "fixed point", "needs")


def test_wasserstein_refuses_cost_matrix_over_memory():
    with pytest.raises(ValueError) as info:
        kg.wasserstein2(np.zeros((400_000, 1)), 1.0, np.ones((400_000, 1)), 1.0)
    _one_line(info, "wasserstein2", "needs")


def test_isolated_refuses_broadcast_over_memory():
    with pytest.raises(ValueError) as info:
        isolated.eigenvalues(eta_d=np.full((300_000, 1), 0.1), eta_g=0.1, lam=np.full(300_000, 0.5),
                             sigma=1.0)
    _one_line(info, "isolated eigenvalues", "needs")


# -- isolated.eigenvalues: argument types, shapes and tol --------------------------------------

@pytest.mark.parametrize(("kwargs", "name"), [
    ({"q": "0.5"}, "q"), ({"lam": b"1"}, "lam"), ({"sigma": 2 + 0j}, "sigma"), ({"n": [None]}, "n"),
    ({"p": [[0.5, 0.5], [0.5]]}, "p"), ({"eta_g": np.datetime64("2020-01-01")}, "eta_g"),
    ({"tol": 0.0}, "tol"), ({"tol": np.inf}, "tol"), ({"tol": -1e-3}, "tol"),
    ({"sigma": np.ones(2), "lam": np.ones(5)}, "broadcast"), ({"lam": np.ones((2, 0))}, "empty"),
    ({"n": 10**400}, "n"),
])
def test_isolated_bad_arguments_are_named(kwargs, name):
    params = {"eta_d": 0.2, "eta_g": 0.05, "lam": 0.8, "sigma": 0.6, **kwargs}
    with pytest.raises(ValueError) as info:
        isolated.eigenvalues(**params)
    _one_line(info, name)


def test_isolated_huge_integer_n_is_a_number():
    """``n`` beyond int64 is still a count: a float64 value, not an object array."""
    r = isolated.eigenvalues(n=3 * 10**25, eta_d=0.1, eta_g=0.1, lam=0.5, sigma=0.3)
    assert r.regime == isolated.eigenvalues(n=3e25, eta_d=0.1, eta_g=0.1, lam=0.5, sigma=0.3).regime
    assert np.isfinite(isolated.divergence_sigma(q=1.0, n=3 * 10**25, eta_d=0.1, eta_g=0.1, lam=0.5))


def test_rates_cli_huge_n(capsys):
    code = main(["rates", "--eta-d", "0.2", "--eta-g", "0.2", "--lam", "1", "--sigma", "2", "--json",
                 "--n", str(7 * 10**30)])
    out, err = capsys.readouterr()
    assert code == 0 and err == "" and out.startswith("{")
    code = main(["rates", "--eta-d", "0.2", "--eta-g", "0.2", "--lam", "1", "--sigma", "2", "--n", "9" * 400])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "n must be finite" in err


# -- strings where numbers belong --------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: kg.GDA("0.3", 0.1), lambda: kg.GDA(0.1, b"0.1"), lambda: kg.Gaussian("2"),
    lambda: kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(1.0), "0.5"),
])
def test_numeric_strings_are_refused(make):
    with pytest.raises(ValueError) as info:
        make()
    _one_line(info, "string")


# -- linearize: learning rates whose step matrix overflows ------------------------------------

@settings(max_examples=10, deadline=None)
@given(eta_d=st.floats(1e160, 1e300), eta_g=st.floats(1e160, 1e300),
       mode=st.sampled_from(["alternating", "simultaneous", "extragradient", "optimistic"]))
def test_linearize_refuses_overflowing_step(eta_d, eta_g, mode):
    """Either a one-line refusal (the step matrix overflows) or a finite divergent answer,
    never a warning."""
    gan = kg.KernelGAN([[0.0, 0.0]], 1.0, kg.Gaussian(0.8), 0.3)
    eq = kg.find_equilibrium(gan, [[0.01, 0.0]], 1.0)
    try:
        lin = kg.linearize(gan, eq, kg.GDA(eta_d, eta_g, mode))
    except ValueError as exc:
        assert "\n" not in str(exc) and "overflows" in str(exc) and "eta_d" in str(exc), str(exc)
        return
    assert np.isfinite(lin.matrix).all() and lin.regime == "divergent" and lin.spectral_radius > 1e100


def test_linearize_alternating_overflow_is_refused():
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(0.5), 0.5)
    eq = kg.find_equilibrium(gan, [[0.0]], 1.0)
    with pytest.raises(ValueError) as info:
        kg.linearize(gan, eq, kg.GDA(3e250, 2e200))
    _one_line(info, "overflows", "eta_d")


def test_linearize_large_but_finite_rates_still_work():
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(1.0), 0.5)
    eq = kg.find_equilibrium(gan, [[0.0]], 1.0)
    lin = kg.linearize(gan, eq, kg.GDA(1e3, 1e3))
    assert np.isfinite(lin.matrix).all() and lin.regime == "divergent"


# -- command line ------------------------------------------------------------------------------

@pytest.mark.parametrize("out", ["", "   "])
def test_empty_output_directory_is_refused(capsys, tmp_path, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    code = main(["figure", "two-point", "--quick", "--out", out])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--out" in err
    assert list(tmp_path.iterdir()) == [], "nothing written to the current directory"


# -- scenario: the offset is named -------------------------------------------------------------

def _scenario(offset):
    return {"true": {"points": [[0.0, 1.0]]}, "generated": {"on_true": True, "offset": offset},
            "kernel": {"sigma": 0.5}, "lam": 0.5, "gda": {"eta_d": 0.1, "eta_g": 0.1}}


@pytest.mark.parametrize("offset", [[float("inf"), 0.0], float("-inf"), [[0.0, float("nan")]], [0.0, 3e50]])
def test_scenario_bad_offset_is_named(offset):
    with pytest.raises(ValueError) as info:
        parse_scenario(_scenario(offset))
    _one_line(info, "generated.offset")


def test_max_memory_governs_the_history_check_too():
    """simulate's max_memory is the limit of every refusal it makes, the history's included."""
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=0.5)
    gda = kg.GDA(0.1, 0.1)
    # 2000 steps x 1 point: the trajectory needs 16 kB, the history about 2000 x 5 x 8 = 80 kB.
    with pytest.raises(ValueError, match="discriminator history"):
        kg.simulate(gan, gda, [[0.1]], 1.0, 2000, record_every=100, max_memory="40K")
    traj = kg.simulate(gan, gda, [[0.1]], 1.0, 2000, record_every=100, max_memory="1M")
    assert traj.y.shape[0] == 21
    with pytest.raises(ValueError, match="discriminator history"):
        kg.simulate_batch([gan, gan], gda, [[0.1]], 1.0, 2000, record_every=100, max_memory="40K")
