"""Shared fixtures: a seeded random generator and strict floating-point error handling."""

from __future__ import annotations

import numpy as np
import pytest


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
