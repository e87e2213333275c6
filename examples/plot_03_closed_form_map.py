"""
Closed-form rate map of the isolated points model
=================================================

The isolated points model (theory section 5) gives the eigenvalues of GDA in closed form,
vectorized over whole grids: here the generator-visible rate of alternating GDA over the
kernel width ``sigma`` and the regularization ``lam`` (a 400 x 400 grid in well under a
second), with the divergent region masked.
"""

import os

import matplotlib.pyplot as plt
import numpy as np

import kernelgda as kg

QUICK = os.environ.get("KERNELGDA_EXAMPLE_QUICK") == "1"
num = 60 if QUICK else 400

sigma = np.geomspace(0.01, 1.0, num)
lam = np.geomspace(0.01, 10.0, num)
S, L = np.meshgrid(sigma, lam)
r = kg.isolated.eigenvalues(p=1.0, q=0.8, n=1, eta_d=0.01, eta_g=0.01, lam=L, sigma=S)
rate = np.where(r.spectral_radius < 1, r.generator_rate, np.nan)
best = np.unravel_index(np.nanargmin(rate), rate.shape)
print(f"fastest cell: sigma = {S[best]:.3g}, lam = {L[best]:.3g}, rate = {rate[best]:.6f}")

fig, ax = plt.subplots(figsize=(6, 4))
mesh = ax.pcolormesh(S, L, rate, shading="auto", cmap="viridis")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("sigma")
ax.set_ylabel("lam")
fig.colorbar(mesh, label="generator-visible rate (white: divergent)")
fig.tight_layout()
