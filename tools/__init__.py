"""Maintenance scripts (region-table import, layering check, package graph). Not part of the installed suite."""
