"""Code a user wrote (a lab's routing module, an admission rule): load a function from a file, one error line if
the file is missing, does not load or lacks the function."""
import importlib.util
import os
from typing import Callable

from testbed.errors import TestbedError


class UserCodeError(TestbedError):
    """A user's file that cannot give the function asked for; the message says why."""


def load_function(path: str, name: str, what: str) -> Callable:
    """The function ``name`` defined by the Python file ``path`` (``what``: 'routing module', for messages)."""
    spec = importlib.util.spec_from_file_location(f'user_{name}', path)
    if spec is None or not os.path.exists(path):
        raise UserCodeError(f'{what} {path} does not exist')
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a user's file may raise anything while loading
        raise UserCodeError(f'{what} {path} does not load: {type(exc).__name__}: {exc}') from None
    function = getattr(module, name, None)
    if not callable(function):
        raise UserCodeError(f'{what} {path} has no {name}() function')
    return function
