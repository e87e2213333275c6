"""kg.simulate and kg.simulate_batch size the stored trajectory before allocating it (issue 10).

Oracle: the byte count written out by hand (frames x points x d x 8 bytes).
"""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg

GAN = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=0.5)


def test_simulate_refuses_a_trajectory_over_max_memory():
    # 1001 frames x 4 points x 1 coordinate x 8 bytes = 32032 bytes > 10 kB
    with pytest.raises(ValueError, match=r"record_every >= \d+"):
        kg.simulate(GAN, kg.GDA(0.1, 0.1), np.zeros((4, 1)) + 0.1, 1.0, num_steps=1000,
                    max_memory=10_000)
    # with the stride the message names, it fits: 1000 // 4 + 1 = 251 frames = 8032 bytes
    traj = kg.simulate(GAN, kg.GDA(0.1, 0.1), np.zeros((4, 1)) + 0.1, 1.0, num_steps=1000,
                       max_memory=10_000, record_every=4)
    assert traj.y.shape == (251, 4, 1)


def test_simulate_batch_counts_every_cell():
    # 2 cells x 101 frames x 4 points x 8 bytes = 6464 bytes: one cell fits in 5 kB, two do not
    kwargs = dict(num_steps=100, max_memory="5K")
    kg.simulate_batch([GAN], kg.GDA(0.1, 0.1), np.zeros((4, 1)) + 0.1, 1.0, **kwargs)
    with pytest.raises(ValueError, match="record_every"):
        kg.simulate_batch([GAN, GAN], kg.GDA(0.1, 0.1), np.zeros((4, 1)) + 0.1, 1.0, **kwargs)
