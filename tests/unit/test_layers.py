"""The one-way layer rule of the ``testbed`` package (see its ``__init__`` and docs/architecture.md), read from the
source: a module imports only modules of its own layer or below, pure modules touch nothing of the system, and the
package never imports the content built on it (topologies, experiments, labs, controllers) below the reports."""
import ast
import os
import sys

import pytest

from testbed import REPO

PACKAGE = os.path.join(REPO, 'testbed')
BASE = {'testbed', 'testbed.errors', 'testbed.units'}
PURE = {'testbed.link.params', 'testbed.control.routing', 'testbed.control.flows', 'testbed.control.ofwire',
        'testbed.control.circuits', 'testbed.control.packets', 'testbed.control.core',
        'testbed.sixtofour.addressing',
        'testbed.sixtofour.coalesce', 'testbed.transition.tunnels', 'testbed.transition.nat64',
        'testbed.transition.survey', 'testbed.transition.broker', 'testbed.transition.sixover4',
        'testbed.transition.discovery', 'testbed.web.view',
        'testbed.measure.multiplexing', 'testbed.measure.theory',
        'testbed.measure.compare', 'testbed.vm.plan', 'testbed.cluster.plan'}
LAYER_OF_PACKAGE = {'system': 2, 'cluster': 3, 'link': 3, 'network': 3, 'control': 3, 'sixtofour': 3, 'transition': 3,
                    'measure': 3, 'reports': 4, 'vm': 4, 'web': 4}
TOP = {'testbed.cli': 5, 'testbed.__main__': 5, 'testbed.ryu_compat': 3}
CONTENT = ('topologies', 'experiments', 'labs', 'controllers')  # built on the testbed: layer 4 and up may use them
# What pure code may import besides layers 0-1: computation only, nothing that reaches files, processes, sockets,
# clocks or the kernel.
PURE_STDLIB = {'bisect', 'collections', 'copy', 'dataclasses', 'enum', 'functools', 'hashlib', 'heapq', 'ipaddress',
               'itertools', 'json', 'math', 'random', 're', 'statistics', 'string', 'struct', 'typing', 'networkx',
               '__future__'}
ALLOWED = {('testbed', 'os')}  # the package's __init__ computes REPO with os.path (path arithmetic only)


def layer(module):
    if module in BASE:
        return 0
    if module in PURE:
        return 1
    if module in TOP:
        return TOP[module]
    return LAYER_OF_PACKAGE[module.split('.')[1]]


def modules():
    """{module name: file} for every module of the package (package __init__ files included)."""
    found = {}
    for folder, _dirs, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                parts = os.path.relpath(path, REPO)[:-3].split(os.sep)
                found['.'.join(parts[:-1] if parts[-1] == '__init__' else parts)] = path
    return found


def imports(path):
    """(imported module, line) for every import in a file, wherever it stands (functions included)."""
    tree = ast.parse(open(path).read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == 'testbed':  # from testbed import REPO / __version__ / a submodule
                found += [(f'testbed.{alias.name}' if f'testbed.{alias.name}' in MODULES else 'testbed', node.lineno)
                          for alias in node.names]
            else:
                found.append((node.module, node.lineno))
    return found


MODULES = modules()


def violations(name, path):
    found = []
    own = layer(name)
    for imported, line in imports(path):
        top = imported.split('.')[0]
        where = f'{os.path.relpath(path, REPO)}:{line} imports {imported}'
        if top == 'testbed':
            target = imported if imported in MODULES else imported.rsplit('.', 1)[0]
            if target in MODULES and layer(target) > own:
                found.append(f'{where} (layer {layer(target)} above {own})')
        elif top in CONTENT:
            if own < 4:
                found.append(f'{where} (the content built on the testbed, below the reports)')
        elif own <= 1 and top not in PURE_STDLIB and (name, top) not in ALLOWED:
            found.append(f'{where} (a pure module touching the system)')
    return found


def test_every_module_has_a_layer():
    for name in MODULES:
        assert layer(name) in range(6), name


@pytest.mark.parametrize('name', sorted(MODULES))
def test_imports_run_one_way(name):
    assert violations(name, MODULES[name]) == []


def test_the_check_catches_a_violation(tmp_path):
    bad = tmp_path / 'routing.py'
    bad.write_text('import subprocess\nfrom testbed.network.net import TestbedNet\n')
    assert len(violations('testbed.control.routing', str(bad))) == 2


def test_the_type_checked_files_are_the_pure_modules():
    import tomllib
    with open(os.path.join(REPO, 'pyproject.toml'), 'rb') as handle:
        checked = tomllib.load(handle)['tool']['mypy']['files']
    pure = {name for name in MODULES if layer(name) <= 1 and name != 'testbed'}
    assert {path[:-3].replace('/', '.') for path in checked} == pure


def test_package_folders_say_what_they_hold_and_may_import():
    for name, path in MODULES.items():
        if path.endswith('__init__.py') and name != 'testbed':
            doc = ast.get_docstring(ast.parse(open(path).read())) or ''
            assert 'May import' in doc or 'import only' in doc, f'{name}: its docstring does not say what it may import'


if __name__ == '__main__':
    sys.exit(pytest.main([__file__]))
