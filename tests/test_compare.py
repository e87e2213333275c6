"""Agreement of measured with predicted regimes (kernelgda.compare)."""

from __future__ import annotations

import numpy as np
import pytest

from kernelgda import compare, phase_diagram
from kernelgda.regimes import REGIMES

FIXED = {"eta_d": 0.1, "eta_g": 0.1, "sigma": 1.0}


def test_compare_counts_near_and_away_cells():
    ds = phase_diagram({"lam": [0.5, 1.0]}, {"eta_d": 0.1, "eta_g": 0.1, "sigma": 1.0}, method="simulate",
                       num_steps=300)
    flipped = ds.copy(deep=True)
    flipped["measured_regime"].values[1] = REGIMES.index("divergent")
    res = compare(ds, flipped)
    assert (res.num_cells, res.num_away, res.agree_away) == (2, 2, 0.5)
    first, second = (REGIMES[c] for c in ds.regime.values)
    expected = {first: {first: 1}}
    expected.setdefault(second, {})["divergent"] = 1
    assert res.confusion == expected, "confusion table: predicted -> measured counts"
    with pytest.raises(ValueError, match="same grid"):
        compare(ds, phase_diagram({"lam": [0.5, 2.0]}, {"eta_d": 0.1, "eta_g": 0.1, "sigma": 1.0},
                                  method="simulate", num_steps=100))
    with pytest.raises(ValueError, match="measured"):
        compare(phase_diagram({"lam": [0.5, 1.0]}, {"eta_d": 0.1, "eta_g": 0.1, "sigma": 1.0}))


def test_compare_counts_a_cell_near_when_another_mode_nearly_ties():
    ds = phase_diagram({"lam": [0.5, 1.0]}, FIXED, method="simulate", num_steps=300)
    assert compare(ds).num_near == 0
    tied = ds.copy(deep=True)
    # a runner-up 1e-4 below the dominant modulus (margin 5e-4): which mode wins is undecided
    tied["runner_up_rate"].values[0] = tied["generator_rate"].values[0] - 1e-4
    res = compare(tied)
    assert (res.num_near, res.num_away) == (1, 1)
    np.testing.assert_array_equal(res.near, [True, False])
    assert compare(tied, margin=5e-5).num_near == 0, "a gap above the margin is away"
