"""The testbed controller's REST API, from the outside: its paths (the Ryu app serves exactly these) and the one
client every caller uses — the CLI in another terminal, experiments, labs, benches and tests."""
import json
import urllib.error
import urllib.request

from testbed.errors import TestbedError

PATHS = {
    'status': '/testbed/status',        # GET: ready?, switches and links seen, packet-ins, the last error
    'topology': '/testbed/topology',    # GET: switches, links up, attachments
    'tables': '/testbed/tables',        # GET: the forwarding tables as installed
    'timeline': '/testbed/timeline',    # GET: each event with when it was computed, sent and acknowledged
    'circuits': '/testbed/circuits',    # GET: circuits and reservations; POST {src, dst, rate}: reserve one
    'circuit': '/testbed/circuits/{circuit_id}',  # DELETE: tear one down
}
TIMEOUT_S = 10


class ControllerUnreachable(TestbedError):
    """Nothing answers on the controller's REST port (not started yet, or gone)."""


class ControllerApi:
    """The REST API of a testbed controller listening on 127.0.0.1:``port``."""

    def __init__(self, port: int):
        self.port = port

    def call(self, method: str, path: str, body=None) -> tuple:
        """(HTTP status, decoded JSON answer); a controller that does not answer is a TestbedError."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f'http://127.0.0.1:{self.port}{path}', data=data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as refused:
            return refused.code, json.loads(refused.read() or b'{}')
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ControllerUnreachable(f'the controller on port {self.port} does not answer ({exc})') from None

    def _get(self, name):
        return self.call('GET', PATHS[name])[1]

    def status(self) -> dict:
        return self._get('status')

    def topology(self) -> dict:
        return self._get('topology')

    def tables(self) -> dict:
        return self._get('tables')

    def timeline(self) -> list:
        return self._get('timeline')

    def circuits(self) -> dict:
        return self._get('circuits')

    def reserve(self, src: str, dst: str, rate: float) -> tuple:
        """Ask for a circuit of ``rate`` bits/s: (200, the circuit) or (409, {'error': why refused})."""
        return self.call('POST', PATHS['circuits'], {'src': src, 'dst': dst, 'rate': rate})

    def teardown(self, circuit_id) -> tuple:
        """(200, {'id', 'torn_down'}) or (404, {'error'})."""
        return self.call('DELETE', PATHS['circuit'].format(circuit_id=circuit_id))
