"""Tests. A package, so tests/lab, tests/network and tests/vsphere are tests.lab, tests.network and
tests.vsphere, never the real lab, network and vsphere packages they would otherwise shadow."""
