"""jinbao."""
