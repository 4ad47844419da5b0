"""Typed schema of the replication policy (`inventory/dr.yaml`): defined with the DR-centre rule in
inventory/drpolicy.py (the inventory plugins read it too); re-exported here for dr/'s callers."""

from __future__ import annotations

from inventory.drpolicy import DR_FILE, DefaultsDoc, DrDoc, Mode, SiteDoc, load_dr_config

__all__ = ["DR_FILE", "DefaultsDoc", "DrDoc", "Mode", "SiteDoc", "load_dr_config"]
