"""controllers of the testbed."""
