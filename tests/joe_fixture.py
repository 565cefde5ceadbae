"""The real default voice, loaded once per test session."""

from __future__ import annotations

import pytest

import sonorant


@pytest.fixture(scope="session")
def joe() -> sonorant.Voice:
    """The bundled en_US-joe-medium voice."""
    return sonorant.load_voice()
