"""
Beyond the linear regime: second-moment model and Gaussian closure
==================================================================

A cloud of 12 generated points around one true point with matched mass. The linearization
says the spread of the cloud never shrinks (a neutral mode); the exact dynamics shrink it like
``1/k``. The second-moment model (theory section 9) and the Gaussian closure (section 11)
follow the exact spread.
"""

import os

import matplotlib.pyplot as plt
import numpy as np

import kernelgda as kg

QUICK = os.environ.get("KERNELGDA_EXAMPLE_QUICK") == "1"
T = 300 if QUICK else 3000

gan = kg.KernelGAN([[0.0, 0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=1.0)
y0 = 0.3 * np.random.default_rng(0).normal(size=(12, 2))
gda, q = kg.GDA(0.1, 2.0), 1 / 12
exact = kg.simulate(gan, gda, y0, q, T, history_tol=1e-10)
_, cov = kg.moments.empirical_moments(exact.y, np.zeros(12, dtype=int))
spread = np.trace(cov[:, 0], axis1=1, axis2=2)
smm = kg.smm.from_points(gan, gda, y0, q, T)
clusters = kg.moments.clusters_from_points(y0, q, x_true=gan.x_true)
closure = kg.moments.gaussian_closure(gan, gda, clusters, T, history_tol=1e-10)
ratios = (smm.linear_spread[-1] / spread[-1], smm.spread[-1] / spread[-1], closure.spread[-1, 0] / spread[-1])
print("spread / exact at the last step: linear {:.3g}, SMM {:.3f}, closure {:.4f}".format(*ratios))

fig, ax = plt.subplots(figsize=(6, 3.8))
k = np.arange(T + 1)
ax.loglog(k[1:], spread[1:], lw=3, color="0.7", label="exact")
ax.loglog(k[1:], smm.linear_spread[1:], "--", label="linear model")
ax.loglog(k[1:], smm.spread[1:], label="second-moment model")
ax.loglog(k[1:], closure.spread[1:, 0], ":", label="Gaussian closure")
ax.set_xlabel("step k")
ax.set_ylabel("spread tr S_k")
ax.legend(fontsize=8)
fig.tight_layout()
