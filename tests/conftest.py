"""Shared fixtures: a seeded random generator, strict floating-point error handling, and
deterministic property tests."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

# Property tests draw the same examples on every run and every machine (a suite that passes here
# passes in CI); `KERNELGDA_HYPOTHESIS=explore pytest` draws fresh ones to hunt for new failures.
settings.register_profile("deterministic", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("KERNELGDA_HYPOTHESIS", "deterministic"))


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, so that every test sees the same random configuration."""
    return np.random.default_rng(20230514)


@pytest.fixture
def strict_float():
    """Turn overflow, division by zero and invalid operations into errors inside a test.

    The library promises no silent NaN and no per-call warnings (style.md), so
    numerical code must guard such operations with ``np.errstate`` itself. Test
    modules opt in with ``pytestmark = pytest.mark.usefixtures("strict_float")``.
    """
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        yield
