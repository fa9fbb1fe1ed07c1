"""The controller's REST API (``testbed.control.api.PATHS``) as a WSGI application, for either controller runtime.

The router app serves it on 127.0.0.1 with its runtime's own WSGI server (eventlet's, through the runtime's
``hub.WSGIServer``), so neither runtime's web framework is needed: Ryu's ``ryu.app.wsgi`` has no counterpart in
os-ken. Requests are parsed and answered with WebOb. A bad request gets a 4xx and a JSON ``{"error": ...}``.
"""
import json

from webob import Request, Response

from testbed.control.api import PATHS
from testbed.control.circuits import AdmissionError

CIRCUIT_PREFIX = PATHS['circuit'].split('{', 1)[0]
READS = {PATHS[name]: name for name in ('status', 'topology', 'tables', 'timeline', 'circuits')}


def _json(value, status=200):
    return Response(content_type='application/json', charset='utf-8', body=json.dumps(value, indent=1).encode(),
                    status=status)


class RestApi:
    """The WSGI application over a router app: ``router.core`` for reads, ``reserve`` and ``teardown`` for changes
    (the app runs them as events, so their commands reach the switches)."""

    def __init__(self, router):
        self.router = router

    def __call__(self, environ, start_response):
        return self.answer(Request(environ))(environ, start_response)

    def answer(self, request: Request) -> Response:
        path, method = request.path_info, request.method
        if path in READS:
            if method == 'GET':
                return _json(self.read(READS[path]))
            if method == 'POST' and path == PATHS['circuits']:
                return self.reserve(request.body)
            return self.not_allowed(method, path)
        if path.startswith(CIRCUIT_PREFIX) and path[len(CIRCUIT_PREFIX):]:
            if method == 'DELETE':
                return self.teardown(path[len(CIRCUIT_PREFIX):])
            return self.not_allowed(method, path)
        return _json({'error': f'no such path: {path} (the API: {", ".join(sorted(PATHS.values()))})'}, 404)

    @staticmethod
    def not_allowed(method, path):
        return _json({'error': f'{method} is not allowed on {path}'}, 405)

    def read(self, name):
        core = self.router.core
        return {'status': core.status, 'topology': core.topology, 'tables': core.table_rows,
                'timeline': lambda: core.timeline, 'circuits': core.circuit_rows}[name]()

    def reserve(self, body: bytes) -> Response:
        try:
            asked = json.loads(body or b'{}')
            circuit = self.router.reserve(str(asked['src']), str(asked['dst']), float(asked['rate']))
        except (KeyError, ValueError, TypeError):
            return _json({'error': 'expected JSON {"src": host, "dst": host, "rate": bits/s}'}, 400)
        except AdmissionError as refused:
            return _json({'error': str(refused)}, 409)
        return _json({'id': circuit.id, 'src': circuit.src, 'dst': circuit.dst, 'rate': circuit.rate,
                      'path': list(circuit.path)})

    def teardown(self, circuit_id: str) -> Response:
        try:
            circuit = self.router.teardown(circuit_id)
        except AdmissionError as missing:
            return _json({'error': str(missing)}, 404)
        return _json({'id': circuit.id, 'torn_down': True})
