"""
Fixed points, their kind and the spectrum
=========================================

Two true points closer than the kernel's width, two generated points: Newton finds the fixed
point ``grad f*(y*) = 0`` (theory section 3), ``kernelgda.kinds`` says what kind of fixed point
it is, and the linearization (section 4) gives the full spectrum of the one-step Jacobian on
the reduced state ``(B, e)``. Eigenvalues the generator sees are drawn filled.
"""

import matplotlib.pyplot as plt
import numpy as np

import kernelgda as kg

gan = kg.KernelGAN(x_true=[[0.0, 0.0], [0.3, 0.0]], p_true=[1.0, 0.5],
                   kernel=kg.Gaussian(sigma=0.5), lam=0.3)
gda = kg.GDA(eta_d=0.2, eta_g=0.2)
eq = kg.find_equilibrium(gan, y0=[[0.02, -0.01], [0.32, -0.01]], q=[1.0, 0.5])
lin = kg.linearize(gan, eq, gda)
print(f"{eq.status.name}: {lin.kind.kind}, stable: {lin.kind.stable}")
print(f"generator-visible rate {lin.generator_rate:.6f}, spectral radius {lin.spectral_radius:.6f}, "
      f"regime {lin.regime}")

# %%
# The spectrum inside the unit circle: every mode decays, the slowest visible one sets the rate.
z = lin.eigenvalues
t = np.linspace(0, 2 * np.pi, 400)
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.plot(np.cos(t), np.sin(t), color="0.6", lw=1)
ax.scatter(z.real[~lin.visible], z.imag[~lin.visible], facecolors="none", edgecolors="C0",
           label="invisible to the generator")
ax.scatter(z.real[lin.visible], z.imag[lin.visible], color="C3", label="generator-visible")
ax.set_aspect("equal")
ax.set_xlabel("Re z")
ax.set_ylabel("Im z")
ax.legend(loc="lower left", fontsize=8)
fig.tight_layout()
