"""Rendering test helpers."""

from __future__ import annotations

import shutil

import pytest

from network.secrets import LabTestSecrets


@pytest.fixture
def lab_secrets() -> LabTestSecrets:
    """LAB ONLY fake secrets."""
    return LabTestSecrets()


needs_vtysh = pytest.mark.skipif(shutil.which("vtysh") is None,
                                 reason="FRR not installed (scripts/setup-host.sh installs it)")
