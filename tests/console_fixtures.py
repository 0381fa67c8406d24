"""Fixtures shared by the console's test files."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from bot.console import auth


@pytest.fixture(autouse=True, scope="module")
def fast_hashes():
    """Argon2 at its cheapest: the tests are about behaviour, not the cost of guessing."""
    recommended = auth.HASHER
    auth.HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth.HASHER = recommended
