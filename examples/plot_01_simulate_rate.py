"""
Simulate GDA and measure its rate
=================================

One true point, one generated point, a Gaussian kernel: find the fixed point, predict the
generator-visible rate from the linearization (theory section 4) and the closed form of the
isolated points model (section 5), then run the exact nonlinear dynamics from a small
perturbation and compare the error's decay with the prediction.
"""

import os

import matplotlib.pyplot as plt

import kernelgda as kg

QUICK = os.environ.get("KERNELGDA_EXAMPLE_QUICK") == "1"
num_steps = 300 if QUICK else 2000

gan = kg.KernelGAN(x_true=[[0.0, 0.0]], p_true=1.0, kernel=kg.Gaussian(sigma=0.3), lam=0.5)
gda = kg.GDA(eta_d=0.1, eta_g=0.1, mode="alternating")
eq = kg.find_equilibrium(gan, y0=[[0.0, 0.0]], q=0.8)
lin = kg.linearize(gan, eq, gda)
closed = kg.isolated.eigenvalues(p=1.0, q=0.8, n=1, eta_d=0.1, eta_g=0.1, lam=0.5, sigma=0.3)
traj = kg.simulate(gan, gda, eq.y + 1e-7, eq.q, num_steps=num_steps, start=eq)
print(f"linearization {lin.generator_rate:.6f}, closed form {closed.generator_rate:.6f}, "
      f"measured {traj.rate(eq.y):.6f} ({lin.regime})")

# %%
# The error ``|Y^k - Y*|`` falls like ``rate^k`` (an oscillatory regime: a complex pair).
k = traj.steps
err = traj.distance(eq.y)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(k, err, label="exact dynamics")
ax.semilogy(k, err[0] * lin.generator_rate ** k, "--", label=f"predicted rate {lin.generator_rate:.4f}")
ax.set_xlabel("step k")
ax.set_ylabel("|Y^k - Y*|")
ax.legend()
fig.tight_layout()
