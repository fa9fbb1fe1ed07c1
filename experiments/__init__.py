"""experiments of the testbed."""
