"""
Mode collapse and local minima
==============================

The papers' 1-D worst case (theory section 10): true points -1 and +1, two generated points
started near +1. For a narrow kernel the two points collapse onto +1, a fixed point that is
a stable local minimum (its linearization has spectral radius below 1); for a wide kernel
one of them travels to -1 and the run reaches the perfect fit. ``W2^2`` to the data tells
the two apart.
"""

import os

import matplotlib.pyplot as plt
import numpy as np

import kernelgda as kg

QUICK = os.environ.get("KERNELGDA_EXAMPLE_QUICK") == "1"
steps = 500 if QUICK else 6000
x, p = np.array([[-1.0], [1.0]]), 0.5
gda = kg.GDA(eta_d=0.1, eta_g=0.01)

fig, ax = plt.subplots(figsize=(6, 3.8))
for sigma in (0.4, 1.0):
    gan = kg.KernelGAN(x, p, kg.Gaussian(sigma=sigma), lam=1.0)
    traj = kg.simulate(gan, gda, [[1.6], [1.7]], 0.5, steps, history_tol=1e-12)
    steps_w, w2 = traj.wasserstein2(x, p, every=10)
    ax.semilogy(steps_w, w2, label=f"sigma = {sigma}")
    eq = kg.find_equilibrium(gan, traj.y[-1], 0.5)
    if eq.converged:
        lin = kg.linearize(gan, eq, gda)
        print(f"sigma = {sigma}: ends near {np.round(eq.y.ravel(), 3)}, {lin.kind.kind}, "
              f"spectral radius {lin.spectral_radius:.4f}")
ax.set_xlabel("step k")
ax.set_ylabel("W2^2 to the data")
ax.legend()
fig.tight_layout()
