"""Naming fixed points (theory sections 3 and 10): perfect fit, collapse, spurious, partial fit, fit.

The collapse case is theory section 10's: true points -1 and +1 with weights 0.5, two
generated points of weight 0.5 straddling +1, Gaussian sigma = 0.4, lam = 1,
eta = (0.1, 0.01). Stability is checked against the eigenvalues of a finite-difference
Jacobian of the exact one-step map (:func:`tests.oracles.fd_reduced_jacobian`), not
against the library's own Jacobian.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.cli import main
from kernelgda.linearize import fixed_point_kind

from . import oracles

pytestmark = pytest.mark.usefixtures("strict_float")

X = np.array([[-1.0], [1.0]])
P = np.array([0.5, 0.5])
LAM, ETA_D, ETA_G = 1.0, 0.1, 0.01


def _oracle_radius(gan, y, q) -> float:
    """Largest modulus of the full spectrum: eig of the finite-difference reduced Jacobian and
    the discriminator modes ``1 - eta_d lam`` outside the reduced state (theory section 4)."""
    fd, _ = oracles.fd_reduced_jacobian(gan.kernel, gan.x_true, gan.p_true, gan.lam, ETA_D, ETA_G,
                                        "alternating", y, q)
    return float(max(np.abs(np.linalg.eigvals(fd)).max(), abs(1 - ETA_D * LAM)))


def test_section_10_collapse_is_a_local_minimum():
    gan = kg.KernelGAN(X, P, kg.Gaussian(sigma=0.4), lam=LAM)
    eq = kg.find_equilibrium(gan, [[0.73], [1.27]], 0.5)
    assert eq.converged
    y = eq.y
    # A fixed point by an independent evaluation of grad f* (oracle sums, theory section 3).
    g = oracles.fstar_grad(gan.kernel, X, P, LAM, y, eq.q, y)
    np.testing.assert_allclose(g, 0.0, rtol=0, atol=1e-10)
    # Straddling +1 within one sigma (theory section 10 table: 0.728, 1.272), far from -1.
    assert y[0, 0] < 1 < y[1, 0] and np.all(np.abs(y - 1.0) < 0.4)
    radius = _oracle_radius(gan, y, eq.q)
    # FD entries agree with J to ~1e-8 (oracles.fd_reduced_jacobian), so the oracle's radius
    # (0.9926, theory section 10) is below 1 with a margin of 7e-3.
    assert radius < 1 - 1e-3
    lin = kg.linearize(gan, eq, kg.GDA(ETA_D, ETA_G))
    np.testing.assert_allclose(lin.spectral_radius, radius, rtol=0, atol=1e-6)
    kind = lin.kind
    assert kind.kind == "collapse" and kind.stable and kind.local_minimum and lin.stable
    assert kind.empty == (0,) and kind.shared == ((1, (0, 1)),) and kind.unassigned == ()
    assert kind.owner.tolist() == [1, 1]
    assert kind.description == ("collapse fixed point: 2 generated points (0, 1) share true point 1; "
                                "true point 0 has no generated mass; stable: a local minimum")


def test_perfect_fit():
    gan = kg.KernelGAN(X, P, kg.Gaussian(sigma=0.75), lam=LAM)
    eq = kg.find_equilibrium(gan, [[-0.9], [1.1]], 0.5)
    assert eq.converged
    np.testing.assert_allclose(eq.y, X, rtol=0, atol=1e-9)
    lin = kg.linearize(gan, eq, kg.GDA(ETA_D, ETA_G))
    assert _oracle_radius(gan, eq.y, eq.q) < 1 - 1e-3  # theory section 10 table: 0.996
    kind = lin.kind
    assert kind.kind == "perfect fit" and kind.stable
    assert kind.empty == () and kind.shared == () and kind.owner.tolist() == [0, 1]
    assert kind.description == "perfect fit fixed point: stable: the global minimum"


def test_spurious_point_halfway():
    """One generated point of mass 1 at 0, halfway between -1 and +1: grad f*(0) = 0 by symmetry."""
    gan = kg.KernelGAN(X, P, kg.Gaussian(sigma=0.4), lam=LAM)
    eq = kg.find_equilibrium(gan, [[0.01]], 1.0)
    assert eq.converged
    np.testing.assert_allclose(eq.y, 0.0, rtol=0, atol=1e-9)
    kind = kg.linearize(gan, eq, kg.GDA(ETA_D, ETA_G)).kind
    assert kind.kind == "spurious" and kind.unassigned == (0,) and kind.empty == (0, 1)
    assert kind.owner.tolist() == [-1]
    assert "generated point 0 is near no true point" in kind.description
    assert "true points 0, 1 have no generated mass" in kind.description


def test_hand_built_configurations():
    gan = kg.KernelGAN([[0.0], [5.0], [5.0]], [1.0, 0.5, 0.5], kg.Gaussian(sigma=1.0), lam=1.0)
    # Coincident true points 1 and 2 form one site, reported by its first index.
    k = fixed_point_kind(gan, [[0.0], [5.0]], 1.0)
    assert k.kind == "perfect fit" and k.owner.tolist() == [0, 1] and k.stable is None
    k = fixed_point_kind(gan, [[0.0], [5.0]], [1.0, 0.8])  # mass mismatch on the site at 5
    assert k.kind == "fit"
    k = fixed_point_kind(gan, [[0.0], [5.3]], 1.0)  # within one sigma, not on it
    assert k.kind == "fit"
    k = fixed_point_kind(gan, [[5.2]], 1.0)
    assert k.kind == "partial fit" and k.empty == (0,)
    k = fixed_point_kind(gan, [[4.9], [5.1]], 1.0, spectral_radius=1.2)
    assert k.kind == "collapse" and k.empty == (0,) and k.shared == ((1, (0, 1)),)
    assert not k.local_minimum
    assert k.description.endswith("not stable (spectral radius >= 1): not a local minimum")
    # Just inside and just outside ASSIGN_RADIUS length scales.
    assert fixed_point_kind(gan, [[0.0], [6.0 - 1e-9]], 1.0).owner.tolist() == [0, 1]
    assert fixed_point_kind(gan, [[0.0], [6.0 + 1e-9]], 1.0).owner.tolist() == [0, -1]
    with pytest.raises(ValueError, match="spectral_radius"):
        fixed_point_kind(gan, [[0.0]], 1.0, spectral_radius=float("nan"))


def test_analyze_names_the_collapse(tmp_path, capsys):
    f = tmp_path / "collapse.toml"
    f.write_text("lam = 1.0\n[true]\npoints = [[-1.0], [1.0]]\nweights = 0.5\n[generated]\n"
                 "points = [[0.73], [1.27]]\nweights = 0.5\n[kernel]\nsigma = 0.4\n"
                 "[gda]\neta_d = 0.1\neta_g = 0.01\n")
    sentence = ("collapse fixed point: 2 generated points (0, 1) share true point 1; "
                "true point 0 has no generated mass; stable: a local minimum")
    assert main(["analyze", str(f)]) == 0
    assert sentence in capsys.readouterr().out.splitlines()
    assert main(["analyze", str(f), "--json"]) == 0
    kind = json.loads(capsys.readouterr().out)["fixed_point"]["kind"]
    assert kind == {"kind": "collapse", "description": sentence, "stable": True, "local_minimum": True,
                    "owner": [1, 1], "empty": [0], "unassigned": [],
                    "shared": [{"true_point": 1, "generated_points": [0, 1]}]}
