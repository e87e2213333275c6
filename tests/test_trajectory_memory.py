"""kg.simulate and kg.simulate_batch size the stored trajectory before allocating it (issue 10).

Oracle: the byte count written out by hand (frames x points x d x 8 bytes).
"""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg

GAN = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=0.5)


def test_simulate_refuses_a_trajectory_over_max_memory():
    # 10001 frames x 4 points x 1 coordinate x 8 bytes = 320032 bytes > 100 kB; the truncated
    # history (at most 256 slices x 4 centres x 5 float64 = 40960 bytes) fits, so the trajectory
    # is what max_memory refuses
    kw = dict(num_steps=10_000, history_tol=1e-8, max_memory=100_000)
    with pytest.raises(ValueError, match=r"record_every >= 4\b"):
        kg.simulate(GAN, kg.GDA(0.1, 0.1), np.zeros((4, 1)) + 0.1, 1.0, **kw)
    # with the stride the message names, it fits: 10000 // 4 + 1 = 2501 frames = 80032 bytes
    traj = kg.simulate(GAN, kg.GDA(0.1, 0.1), np.zeros((4, 1)) + 0.1, 1.0, record_every=4, **kw)
    assert traj.y.shape == (2501, 4, 1)


def test_simulate_batch_counts_every_cell():
    # one cell: 101 frames x 4 points x 8 bytes = 3232 bytes of trajectory and 103 slices x 4
    # centres x 2 float64 = 6592 bytes of history, both within 20 kB; ten cells need 32320 bytes
    # of trajectories, which max_memory refuses before the histories are sized
    kwargs = dict(num_steps=100, max_memory="20K")
    y0 = np.zeros((4, 1)) + 0.1
    kg.simulate_batch([GAN], kg.GDA(0.1, 0.1), y0, 1.0, **kwargs)
    with pytest.raises(ValueError, match="record_every"):
        kg.simulate_batch([GAN] * 10, kg.GDA(0.1, 0.1), y0, 1.0, **kwargs)
    # and the histories of every cell count too: 3 cells x 6592 bytes > 16 kB, 1 cell fits
    kg.simulate_batch([GAN], kg.GDA(0.1, 0.1), y0, 1.0, num_steps=100, max_memory="16K")
    with pytest.raises(ValueError, match="discriminator history"):
        kg.simulate_batch([GAN] * 3, kg.GDA(0.1, 0.1), y0, 1.0, num_steps=100, max_memory="16K")
