"""topologies of the testbed."""
