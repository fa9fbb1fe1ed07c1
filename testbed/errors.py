"""Errors the testbed reports to users as one clear line and exit code 2."""


class TestbedError(Exception):
    """A problem with the user's input or the machine, explained in one line."""

    exit_code = 2
    __test__ = False  # not a pytest test class, despite the name


class CapabilityError(TestbedError):
    """The machine cannot do what was asked (a missing kernel feature, not root, ...)."""


class RequestRefused(TestbedError):
    """A request a service of the testbed refuses (the tunnel broker, the web view): ``status`` is the HTTP status
    it answers with, the message its one line."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
