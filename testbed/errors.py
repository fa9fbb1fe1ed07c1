"""Errors the testbed reports to users as one clear line and exit code 2."""


class TestbedError(Exception):
    """A problem with the user's input or the machine, explained in one line."""

    exit_code = 2
    __test__ = False  # not a pytest test class, despite the name


class CapabilityError(TestbedError):
    """The machine cannot do what was asked (a missing kernel feature, not root, ...)."""
