"""The controller's REST API (testbed.control.rest) as either runtime serves it, driven through WSGI with a fake
router app; and the choice of runtime at the controller's launcher."""
import json
from types import SimpleNamespace

import pytest
from webob import Request

from testbed.control.api import PATHS
from testbed.control.circuits import AdmissionError
from testbed.control.rest import RestApi
from testbed.ryu_compat import split_runtime


class FakeCore:
    timeline = [{'event': 'PortStatus s1:2 down'}]

    def status(self):
        return {'ready': True}

    def topology(self):
        return {'switches': ['s1']}

    def table_rows(self):
        return {'s1': []}

    def circuit_rows(self):
        return {'circuits': []}


class FakeRouter:
    def __init__(self):
        self.core = FakeCore()
        self.reserved = []

    def reserve(self, src, dst, rate):
        if rate > 1e9:
            raise AdmissionError('no path has 1000.0 Mb/s left')
        self.reserved.append((src, dst, rate))
        return SimpleNamespace(id=1, src=src, dst=dst, rate=rate, path=('s1', 's2'))

    def teardown(self, circuit_id):
        if circuit_id != '1':
            raise AdmissionError(f'no circuit {circuit_id}')
        return SimpleNamespace(id=1)


def call(method, path, body=None):
    request = Request.blank(path, method=method, body=body if body is None else body.encode())
    answer = request.get_response(RestApi(FakeRouter()))
    return answer.status_int, json.loads(answer.body)


@pytest.mark.parametrize('name,expected', [('status', {'ready': True}), ('topology', {'switches': ['s1']}),
                                           ('tables', {'s1': []}), ('timeline', FakeCore.timeline),
                                           ('circuits', {'circuits': []})])
def test_reads(name, expected):
    assert call('GET', PATHS[name]) == (200, expected)


def test_reserve_and_teardown():
    status, circuit = call('POST', PATHS['circuits'], '{"src": "h1", "dst": "h2", "rate": 5e6}')
    assert status == 200 and circuit == {'id': 1, 'src': 'h1', 'dst': 'h2', 'rate': 5e6, 'path': ['s1', 's2']}
    assert call('DELETE', PATHS['circuit'].format(circuit_id=1)) == (200, {'id': 1, 'torn_down': True})


@pytest.mark.parametrize('method,path,body,status,error', [
    ('POST', PATHS['circuits'], '{"src": "h1"}', 400, 'expected JSON'),
    ('POST', PATHS['circuits'], 'not json', 400, 'expected JSON'),
    ('POST', PATHS['circuits'], '[1, 2]', 400, 'expected JSON'),
    ('POST', PATHS['circuits'], '{"src": "h1", "dst": "h2", "rate": "fast"}', 400, 'expected JSON'),
    ('POST', PATHS['circuits'], '{"src": "h1", "dst": "h2", "rate": 2e9}', 409, 'no path has'),
    ('DELETE', PATHS['circuit'].format(circuit_id=7), None, 404, 'no circuit 7'),
    ('GET', '/testbed/nothing', None, 404, 'no such path: /testbed/nothing'),
    ('GET', PATHS['circuits'] + '/', None, 404, 'no such path'),
    ('DELETE', PATHS['status'], None, 405, 'DELETE is not allowed on /testbed/status'),
    ('POST', PATHS['tables'], '{}', 405, 'POST is not allowed'),
    ('GET', PATHS['circuit'].format(circuit_id=1), None, 405, 'GET is not allowed'),
])
def test_bad_requests_get_a_4xx_with_the_reason(method, path, body, status, error):
    answered, answer = call(method, path, body)
    assert answered == status and error in answer['error']


def test_runtime_is_chosen_before_the_managers_arguments():
    assert split_runtime(['--ofp-tcp-listen-port', '1', 'app']) == ('ryu', ['--ofp-tcp-listen-port', '1', 'app'])
    assert split_runtime(['--runtime', 'os-ken', 'app']) == ('os-ken', ['app'])
    assert split_runtime(['--runtime=ryu', 'app']) == ('ryu', ['app'])
    with pytest.raises(ValueError, match="unknown controller runtime 'nox'"):
        split_runtime(['--runtime', 'nox'])


def test_router_apps_are_named_as_modules_not_files():
    """Both managers load a file path with SourceFileLoader.load_module (gone in Python 3.15), a module name with
    importlib: the router apps must be module names that resolve from the checkout, not paths."""
    import importlib.util
    import os

    from testbed import REPO
    from testbed.control.ryu import ROUTER_APPS
    from testbed.ryu_compat import RUNTIMES
    assert sorted(ROUTER_APPS) == sorted(RUNTIMES)
    for app in ROUTER_APPS.values():
        assert not app.endswith('.py') and not os.path.exists(os.path.join(REPO, app))
        package, module = app.rsplit('.', 1)
        assert os.path.exists(os.path.join(REPO, *package.split('.'), module + '.py'))
        assert importlib.util.find_spec(package) is not None
