"""The tunnel broker and its tunnel server (RFC 3053), one daemon inside the server's namespace.

An HTTP API on the server's IPv4 address (inside the emulation only):

- ``POST /tunnels`` with ``{"client_v4": "a.b.c.d"}``: allocate (``testbed.transition.broker``), configure the
  server's end -- a sit device in manual mode, or the userspace encapsulator in manual mode where the kernel has no
  sit -- with the link's address and a route for the client's prefix, and answer 201 with the client's
  configuration (the same tunnel again for the same address);
- ``GET /tunnels``: every tunnel; ``DELETE /tunnels/a.b.c.d``: remove one.

A malformed or refused request gets a 4xx with one line of JSON ``{"error": ...}`` and changes nothing.

Run as ``python -m testbed.transition.brokerd CONFIG_JSON``; prints ``ready`` once it listens.
"""
import json
import os
import select
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from testbed.sixtofour.addressing import TUNNEL_MTU, TUNNEL_TTL
from testbed.system.daemon import LoopSignals, die_with_parent
from testbed.system.daemon import main as daemon_main
from testbed.transition.broker import Broker, BrokerError

PORT = 3053
MAX_BODY = 4096


def _ip(*args):
    result = subprocess.run(['ip', *args], capture_output=True, text=True)
    if result.returncode:
        raise BrokerError(f'tunnel server: ip {" ".join(args)}: {result.stderr.strip()}', status=500)


class TunnelServer:
    """The server's ends of the tunnels: ``path`` 'kernel' (sit) or 'userspace' (one encapsulator per tunnel)."""

    def __init__(self, config):
        self.path, self.local, self.stats_dir = config['path'], config['server_v4'], config.get('stats_dir')
        self.processes = {}

    def add(self, allocation):
        device = f'tb{allocation.number}'
        if self.path == 'kernel':
            _ip('tunnel', 'add', device, 'mode', 'sit', 'local', self.local, 'remote', allocation.client_v4,
                'ttl', str(TUNNEL_TTL))
            _ip('link', 'set', device, 'mtu', str(TUNNEL_MTU), 'up')
        else:
            self._encapsulator(allocation, device)
        _ip('-6', 'addr', 'add', allocation.server_address, 'dev', device, 'nodad')
        _ip('-6', 'route', 'add', allocation.prefix, 'via', allocation.client_address.split('/')[0], 'dev', device)

    def _encapsulator(self, allocation, device):
        config = {'mode': 'manual', 'local': self.local, 'remote': allocation.client_v4, 'device': device,
                  'mtu': TUNNEL_MTU, 'name': device, 'parent': os.getpid(),
                  'stats': f'{self.stats_dir}/encap-{device}.json' if self.stats_dir else None}
        process = subprocess.Popen([sys.executable, '-m', 'testbed.transition.encapsulator', json.dumps(config)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([process.stdout], [], [], 10)
        if not ready or process.stdout.readline().strip() != 'ready':
            process.kill()
            raise BrokerError(f'tunnel server: the encapsulator for {device} did not start: '
                              f'{process.stderr.read().strip()[-200:]}', status=500)
        self.processes[allocation.number] = process

    def remove(self, allocation):
        process = self.processes.pop(allocation.number, None)
        if process is not None:   # its TUN device, addresses and routes go with it
            process.terminate()
            process.wait(timeout=5)
        else:
            subprocess.run(['ip', 'tunnel', 'del', f'tb{allocation.number}'], capture_output=True)

    def close(self):
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            process.wait(timeout=5)


def handler(broker, server):
    class Handler(BaseHTTPRequestHandler):
        timeout = 5   # a client that stops sending mid-request is dropped, not waited for

        def log_message(self, *args):   # quiet: the test and the user read the answers
            pass

        def _answer(self, status, body=None):
            data = b'' if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _refuse(self, error):
            self._answer(error.status, {'error': str(error)})

        def do_GET(self):
            if self.path != '/tunnels':
                return self._refuse(BrokerError(f'no such resource {self.path[:60]!r}', status=404))
            self._answer(200, {'tunnels': broker.listing()})

        def do_POST(self):
            try:
                if self.path != '/tunnels':
                    raise BrokerError(f'no such resource {self.path[:60]!r}', status=404)
                length = int(self.headers.get('Content-Length') or 0)
                if not 0 < length <= MAX_BODY:
                    raise BrokerError(f'a request body of 1..{MAX_BODY} bytes is expected', status=413
                                      if length > MAX_BODY else 400)
                try:
                    body = json.loads(self.rfile.read(length))
                except ValueError:
                    raise BrokerError('the request body is not JSON') from None
                known = broker.find(body.get('client_v4')) if isinstance(body, dict) else None
                allocation = broker.request(body)
                if known is None:
                    try:
                        server.add(allocation)
                    except BrokerError:
                        broker.release(allocation.client_v4)
                        server.remove(allocation)
                        raise
                self._answer(200 if known else 201, allocation.as_dict())
            except BrokerError as error:
                self._refuse(error)

        def do_DELETE(self):
            try:
                if not self.path.startswith('/tunnels/'):
                    raise BrokerError(f'no such resource {self.path[:60]!r}', status=404)
                server.remove(broker.release(self.path[len('/tunnels/'):]))
                self._answer(204)
            except BrokerError as error:
                self._refuse(error)

    return Handler


def run(config):
    die_with_parent(config.get('parent'))
    broker = Broker(config['server_v4'], **{key: config[key] for key in ('links', 'sites') if key in config})
    server = TunnelServer(config)
    http = HTTPServer((config['server_v4'], config.get('port', PORT)), handler(broker, server))
    signals = LoopSignals()
    print('ready', flush=True)
    try:
        while not signals.stopping:
            try:
                ready, _, _ = select.select([http.socket, signals.fd], [], [], 1.0)
            except InterruptedError:
                continue
            if signals.fd in ready:
                signals.drain()
            if http.socket in ready:
                http.handle_request()
    finally:
        server.close()
        http.server_close()


def main(argv=None):
    return daemon_main(argv, 'testbed.transition.brokerd', run, lambda config: 'tunnel broker',
                       errors=(OSError, BrokerError))


if __name__ == '__main__':
    sys.exit(main())
