"""ipplan."""
