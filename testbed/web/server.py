"""The web view's HTTP server: the page, its JSON API (``testbed.web.view.API``) and the actions, on 127.0.0.1.

Safe by default: it binds to 127.0.0.1 unless told otherwise; every action (a link down or up, a circuit) needs
the token printed on the console, in the ``X-Testbed-Token`` header (the page reads it from its address,
``#token=...``); names in a request are looked up in the network's own record, never put into a shell; a bad
request gets a 4xx with one JSON line ``{"error": ...}`` and changes nothing; a request for another host name (a
DNS-rebinding page's) is refused. The page and its script are the project's own files (``static/``): nothing is
fetched from the Internet.
"""
import hmac
import json
import os
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import unquote

from testbed import __version__
from testbed.errors import TestbedError
from testbed.web.state import NetworkView
from testbed.web.view import API, DEFAULT_PORT, TOKEN_HEADER, WebRequestError, openapi, route

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'static')
FILES = {'/': ('index.html', 'text/html; charset=utf-8'), '/app.js': ('app.js', 'text/javascript; charset=utf-8'),
         '/style.css': ('style.css', 'text/css; charset=utf-8')}
MAX_BODY = 64 * 1024
NEEDS_TOKEN = {(method, path): token for method, path, _, token in API}


class WebView:
    """A running web view: ``url`` (with the token), ``stop()``."""

    def __init__(self, view: NetworkView, bind: str = '127.0.0.1', port: int = DEFAULT_PORT,
                 token: Optional[str] = None):
        self.view, self.token = view, token or secrets.token_urlsafe(16)
        try:
            self.httpd = ThreadingHTTPServer((bind, port), _handler(self))
        except OSError as exc:
            raise TestbedError(f'web view: cannot listen on {bind}:{port} ({exc.strerror}); '
                               f'choose another port') from None
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        host = {'0.0.0.0': '127.0.0.1', '::': '[::1]'}.get(bind, f'[{bind}]' if ':' in bind else bind)   # to open
        self.url = f'http://{host}:{self.port}/#token={self.token}'
        # the Host header a browser sends for this view: others (a DNS-rebinding page's) are refused
        self.hosts = None if bind in ('0.0.0.0', '::') else {
            f'{name}:{self.port}' for name in ('127.0.0.1', 'localhost', '[::1]', host)}
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=view.sampler, args=(self._stop,), name='web sampler', daemon=True)
        for thread in (threading.Thread(target=self.httpd.serve_forever, name='web view', daemon=True),
                       self._sampler):
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._sampler.join()   # before the view closes what the sampler reads with
        self.view.close()

    def authorised(self, given: Optional[str]) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def answer(self, method: str, path: str, headers, body: bytes) -> tuple:
        """(status, JSON-able answer) for one API request."""
        pattern, params = route(method, path)
        if NEEDS_TOKEN[method, pattern]:
            given = headers.get(TOKEN_HEADER)
            if not given:
                raise WebRequestError(f'this action needs the token printed on the console ({TOKEN_HEADER})', 401)
            if not self.authorised(given):
                raise WebRequestError('wrong token', 403)
        view = self.view
        if pattern == '/api/topology':
            return 200, view.topology()
        if pattern == '/api/loads':
            return 200, view.loads()
        if pattern == '/api/tables':
            return 200, view.tables()
        if pattern == '/api/control':
            return 200, view.control()
        if pattern == '/api/tunnels':
            return 200, view.tunnels()
        if pattern.startswith('/api/links/'):
            return 200, view.set_link(params['a'], params['b'], up=pattern.endswith('/up'))
        if pattern == '/api/results':
            return 200, view.results_answer()
        if pattern == '/api/captures' and method == 'GET':
            return 200, view.capture_list()
        if method == 'DELETE':
            return view.teardown(params['circuit_id'])
        try:
            request = json.loads(body or b'null')
        except ValueError:
            raise WebRequestError('the body is not JSON') from None
        if pattern == '/api/circuits':
            return view.reserve(request)
        actions = {'/api/ping': view.ping, '/api/iperf': view.iperf, '/api/captures': view.capture}
        return 200, actions[pattern](request)


def _handler(web: WebView):
    class Handler(BaseHTTPRequestHandler):
        server_version = 'testbed-web'

        def log_message(self, format, *args):   # noqa: A002 - quiet: the console belongs to the run
            pass

        def _send(self, status, payload, content_type='application/json'):
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header('Content-Type', content_type)
            self.send_header('Content-Length', str(len(data)))
            self.send_header('Cache-Control', 'no-store')
            self.send_header('X-Content-Type-Options', 'nosniff')
            self.end_headers()
            self.wfile.write(data)

        def _serve(self, method):
            path = self.path.split('?')[0]
            try:
                if web.hosts is not None and self.headers.get('Host') not in web.hosts:
                    raise WebRequestError(f'this view answers for {sorted(web.hosts)[0]}, not '
                                          f'{self.headers.get("Host")!r}', 403)
                if method == 'GET' and path in FILES:
                    name, content_type = FILES[path]
                    with open(os.path.join(STATIC, name), 'rb') as handle:
                        return self._send(200, handle.read(), content_type)
                if method == 'GET' and path == '/api/openapi.json':
                    return self._send(200, openapi(__version__))
                if method == 'GET' and path.startswith('/api/results/'):
                    _, params = route(method, path)
                    content_type, file_path = web.view.result(unquote(params['folder']), unquote(params['file']))
                    with open(file_path, 'rb') as handle:
                        return self._send(200, handle.read(), content_type)
                if method == 'GET' and path.startswith('/api/captures/'):
                    with open(web.view.capture_file(path.rsplit('/', 1)[1]), 'rb') as handle:
                        return self._send(200, handle.read(), 'application/vnd.tcpdump.pcap')
                length = int(self.headers.get('Content-Length') or 0)
                if length > MAX_BODY:
                    raise WebRequestError('request body too large', 413)
                body = self.rfile.read(length) if length > 0 else b''
                status, answer = web.answer(method, path, self.headers, body)
                return self._send(status, answer)
            except WebRequestError as exc:
                return self._send(exc.status, {'error': str(exc)})
            except ValueError:
                return self._send(400, {'error': 'malformed request'})
            except TestbedError as exc:
                return self._send(503, {'error': str(exc)})

        def do_GET(self):     # noqa: N802 - http.server's names
            self._serve('GET')

        def do_POST(self):    # noqa: N802
            self._serve('POST')

        def do_DELETE(self):  # noqa: N802
            self._serve('DELETE')

        def do_PUT(self):     # noqa: N802
            self._serve('PUT')

    return Handler
