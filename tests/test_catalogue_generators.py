"""The fixed-point catalogue with a parametric generator (issues 17 and 19, theory section 12)."""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.generators import MLP, Affine

from . import oracles


def _case():
    gan = kg.KernelGAN([[-1.0], [0.0], [1.3]], 1 / 3, kg.Gaussian(0.5), lam=1.0)
    gen = Affine(np.random.default_rng(100).standard_normal((3, 1)), 1, seed=0)
    return gan, gen, np.full(3, 1 / 3)


@pytest.mark.slow
def test_generator_catalogue_entries_are_parametric_fixed_points():
    gan, gen, q = _case()
    cat = kg.fixed_points(gan, q, gda=kg.GDA(0.1, 0.5), generator=gen, num_random=4, seed=1)
    assert len(cat) >= 2, cat.message
    for e in cat:
        assert e.theta is not None and e.gradient_kind in ("perfect-gradient", "parametric")
        np.testing.assert_allclose(gen.points(e.theta), e.y, atol=1e-12)
        # J^T Q grad f* = 0 with grad f* from the naive kernel sums and J by differences
        g = oracles.fstar_grad(gan.kernel, gan.x_true, gan.p_true, gan.lam, e.y, q, e.y)
        h = 1e-6
        jac = np.stack([(gen.points(e.theta + h * u) - gen.points(e.theta - h * u)).ravel() / (2 * h)
                        for u in np.eye(gen.num_params)], axis=1)
        assert np.abs(jac.T @ (q[:, None] * g).ravel()).max() < 1e-8, e.label
    ys = [e.y for e in cat]
    for i in range(len(ys)):  # no two entries are the same measure
        for j in range(i):
            assert min(np.abs(np.sort(ys[i].ravel()) - np.sort(ys[j].ravel())).max(), 1.0) > 1e-6
    again = kg.fixed_points(gan, q, gda=kg.GDA(0.1, 0.5), generator=gen, num_random=4, seed=1)
    assert [e.label for e in again] == [e.label for e in cat], "deterministic for a seed"
    # the spectral radius decides: an MMD^2 minimum GDA leaves (theory section 12)
    assert any(not e.stable for e in cat)


def test_generator_catalogue_refusals():
    gan, gen, q = _case()
    with pytest.raises(ValueError, match="makes 3 points"):
        kg.fixed_points(gan, np.full(2, 0.5), generator=gen)
    with pytest.raises(ValueError, match="generator must be"):
        kg.fixed_points(gan, q, generator="mlp")
    with pytest.raises(ValueError, match="relu"):
        kg.fixed_points(gan, q, generator=MLP([[0.0], [1.0], [2.0]], 1, (2,), "relu"), structured=False,
                        num_random=0)


@pytest.mark.slow
def test_generator_catalogue_basins_refused_in_one_line():
    gan, gen, q = _case()
    cat = kg.fixed_points(gan, q, generator=gen, num_random=0, structured=False)
    with pytest.raises(ValueError, match="free points"):
        cat.basins(kg.GDA(0.1, 0.5), [[[0.0], [0.1], [0.2]]], 10)
