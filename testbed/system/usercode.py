"""Code a user wrote (a lab's routing module, an admission rule): load a function from a file, one error line if
the file is missing, does not load or lacks the function."""
import importlib.util
import os
from typing import Callable, Union

from testbed.control.routing import MODULE_ALGORITHM, RoutingError
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


def routing_algorithm(name: str) -> Union[str, Callable[[], Callable]]:
    """A built-in algorithm's name as it is, or for 'module:FILE' a loader of the file's ``next_hops`` (called for
    every computation: a lab's file may change); a file that cannot give it is a RoutingError then."""
    if not name.startswith(MODULE_ALGORITHM):
        return name

    def load() -> Callable:
        try:
            return load_function(name[len(MODULE_ALGORITHM):], 'next_hops', 'routing module')
        except UserCodeError as exc:
            raise RoutingError(str(exc)) from None
    return load
