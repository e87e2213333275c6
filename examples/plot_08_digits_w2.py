"""
Handwritten digits: W2 against the kernel width
===============================================

Ten 8 x 8 digits from scikit-learn's bundled ``load_digits`` (d = 64, no download) and ten
generated points started near them. The kernel width decides how fast GDA brings the points
to the data: too narrow and the discriminator barely sees them (the gradient is tiny away from
its true point, theory section 10), too wide and it no longer tells the digits apart. ``W2^2``
(exact optimal transport, POT) measures the progress. The experiment ``digits`` of
``kernelgda reproduce`` scans the widths further and checks the linearization's verdict.
"""

import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

import kernelgda as kg

QUICK = os.environ.get("KERNELGDA_EXAMPLE_QUICK") == "1"
steps = 60 if QUICK else 300
sigmas = (1.0, 2.0) if QUICK else (0.5, 1.0, 2.0, 4.0)

digits = load_digits()
x = np.array([digits.data[digits.target == k][0] for k in range(10)]) / 16.0
y0 = x + 0.3 * np.random.default_rng(0).standard_normal(x.shape)
gda = kg.GDA(eta_d=0.1, eta_g=0.5)

fig, ax = plt.subplots(figsize=(6, 3.8))
for sigma in sigmas:
    gan = kg.KernelGAN(x, 0.1, kg.Gaussian(sigma=sigma), lam=1.0)
    traj = kg.simulate(gan, gda, y0, 0.1, steps, history_tol=1e-8)
    k, w2 = traj.wasserstein2(x, 0.1, every=10)
    ax.semilogy(k, w2, label=f"sigma = {sigma} ({traj.status.name.lower()})")
    print(f"sigma = {sigma}: W2^2 {w2[0]:.3g} -> {w2[-1]:.3g}, {traj.status.name.lower()}")
ax.set_xlabel("step k")
ax.set_ylabel("W2^2 to the ten digits")
ax.legend(fontsize=8)
fig.tight_layout()
