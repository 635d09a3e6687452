import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from dockyard_images.images import ImageStore  # noqa: E402  (after the path for the helpers)
from fake_registry import FakeRegistry  # noqa: E402


@pytest.fixture
def store(tmp_path):
    """An empty, restored ImageStore under tmp_path."""
    s = ImageStore(str(tmp_path / "image"))
    s.restore()
    return s


@pytest.fixture
def registry():
    """A running in-process FakeRegistry (fake_registry.py), shut down after the test."""
    with FakeRegistry() as reg:
        yield reg
