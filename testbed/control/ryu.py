"""A Mininet controller node that runs Ryu or os-ken (the testbed's router app, or a user's own apps).

The manager is started through ``testbed.ryu_compat`` (each runtime's workarounds), listening on 127.0.0.1 (in a
cluster run: on this machine's address toward the servers), with LLDP link discovery (``--observe-links``); the
router app serves the REST API on a free local port. Its PID is recorded in the run, its output goes to the run
directory (``ryu.log``). ``wait_ready()`` asks the router app whether every table is installed.

Two runtimes run the same router app (``testbed.control.app``): Ryu 4.34, the default (the one the field's
courses, docs and user apps are written for; unmaintained since 2020, kept running by ``testbed.ryu_compat``), and
os-ken 3.x (OpenStack's maintained fork, a different package name; its 4.x releases dropped the manager).
"""
import ipaddress
import json
import os
import socket
import subprocess
import sys
import time

from mininet.node import Controller, RemoteController

from testbed import REPO, ryu_compat
from testbed.control.api import ControllerApi, ControllerUnreachable
from testbed.errors import TestbedError
from testbed.system.interrupts import deferred_signals
from testbed.system.probe import probe

DEFAULT_RUNTIME = os.environ.get('TESTBED_CONTROLLER_RUNTIME', ryu_compat.DEFAULT_RUNTIME)
# The router app of each runtime, by module name (a file path would be loaded with SourceFileLoader.load_module,
# gone in Python 3.15); the controller runs with the checkout on its path.
ROUTER_APPS = {'ryu': 'controllers.router', 'os-ken': 'controllers.router_osken'}
START_TIMEOUT_S = 30
OPENFLOW_PORT = 6653
REMOTE_WAIT_S = 10  # how long a remote controller may take to listen before the network is refused
EMULATED_START_TIMEOUT_S = 120  # under QEMU TCG Ryu's imports alone took 20-40 s in the VM stage


def start_timeout_s():
    """How long a controller may take to listen or get ready: longer on an emulated CPU."""
    return EMULATED_START_TIMEOUT_S if probe().has('cpu_emulated') else START_TIMEOUT_S


def _last_line(path):
    """The last meaningful line of a log (the error a process died of)."""
    try:
        with open(path, errors='replace') as handle:
            lines = [line.strip() for line in handle if line.strip()]
    except OSError:
        return 'no log'
    return lines[-1] if lines else 'empty log'


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def parse_controller_address(text):
    """``'HOST[:PORT]'`` (``[IPv6]:PORT`` too) -> (host, port); the OpenFlow port 6653 by default."""
    text = (text or '').strip()
    host, port = text, str(OPENFLOW_PORT)
    if text.startswith('['):
        host, _, rest = text[1:].partition(']')
        port = rest[1:] if rest.startswith(':') else port
    elif text.count(':') == 1:
        host, port = text.split(':')
    if ':' in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            host = ''
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TestbedError(f'remote controller {text!r} is not HOST[:PORT] (for example 127.0.0.1:6653)')
    return host, int(port)


def wait_for_controller(host, port, timeout=REMOTE_WAIT_S):
    """Return (host, port) once something accepts TCP connections there; a TestbedError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return host, port
        except OSError as exc:
            if time.monotonic() > deadline:
                raise TestbedError(f'no OpenFlow controller listens on {host}:{port} ({exc.strerror or exc}); start '
                                   f'it first, for example: python -m testbed.ryu_compat --ofp-tcp-listen-port '
                                   f'{port} ryu.app.simple_switch_13') from None
            time.sleep(0.2)


class ExternalController(RemoteController):
    """A controller the user runs: the testbed points the switches at it and never starts or stops it."""

    def checkListening(self):  # Mininet's check needs telnet; TestbedNet waited for the port already
        pass


def check_runtime(runtime):
    """``runtime`` if it is one the testbed can start, else a TestbedError naming the choices."""
    if runtime not in ryu_compat.RUNTIMES:
        raise TestbedError(f'unknown controller runtime {runtime!r} (choose {" or ".join(ryu_compat.RUNTIMES)})')
    return runtime


class RyuController(Controller):
    """Ryu (or os-ken) as a Mininet controller: ``apps`` are module names or files; None: the testbed router of
    ``runtime``."""

    def __init__(self, name, run=None, apps=None, env=None, listen='127.0.0.1', runtime=None, **params):
        """``listen``: the address its OpenFlow port listens on (a cluster run's switches on other servers reach
        it on this machine's address toward them; the REST API stays on 127.0.0.1)."""
        self.run = run
        self.runtime = check_runtime(runtime or DEFAULT_RUNTIME)
        self.apps = list(apps) if apps else [ROUTER_APPS[self.runtime]]
        self.env = dict(env or {})
        self.rest_port = free_port()
        self.api = ControllerApi(self.rest_port)
        self.process = None
        super().__init__(name, ip=listen, port=free_port(), **params)

    def start(self):
        log_path = self.run.path('ryu.log') if self.run else os.devnull
        cmd = [sys.executable, '-W', 'ignore', '-m', 'testbed.ryu_compat', '--runtime', self.runtime,
               '--ofp-listen-host', self.ip, '--ofp-tcp-listen-port', str(self.port), '--observe-links']
        if self.runtime == 'ryu':  # for a user's app on Ryu's own web framework (the router serves its own)
            cmd += ['--wsapi-host', '127.0.0.1', '--wsapi-port', str(self.rest_port)]
        cmd += self.apps
        env = dict(os.environ, **self.env)
        env['TESTBED_REST_PORT'] = str(self.rest_port)
        env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
        env['TESTBED_PARENT_PID'] = str(os.getpid())  # Ryu ends with the run (testbed.ryu_compat)
        with open(log_path, 'ab') as log, deferred_signals():  # recorded before a signal can end the run
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                                            start_new_session=True)
            if self.run:
                self.run.record_process(self.process.pid, f'ryu controller {self.name}')
            with open(self.run.path('controller.json'), 'w') as handle:
                json.dump({'name': self.name, 'openflow_port': self.port, 'rest_port': self.rest_port}, handle)
        timeout = start_timeout_s()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise TestbedError(f'controller {self.name} exited at start: {_last_line(log_path)}')
            with socket.socket() as sock:
                if sock.connect_ex((self.ip, self.port)) == 0:
                    return
            time.sleep(0.1)
        raise TestbedError(f'controller {self.name} did not listen within {timeout} s (see {log_path})')

    def stop_process(self, sig=None):
        """End the Ryu process (SIGTERM, or ``sig``), leaving the switches on their own (fail-secure)."""
        if self.process and self.process.poll() is None:
            if sig is None:
                self.process.terminate()
            else:
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self, sig=None):
        """Stop Ryu and start it again on the same ports: the switches reconnect to it."""
        self.stop_process(sig)
        self.start()

    def stop(self, *args, **kwargs):
        self.stop_process()
        super().stop(*args, **kwargs)

    def wait_ready(self, timeout=None, extra=0.0):
        """Wait until the router app has installed every table (all switches connected, all links discovered);
        ``extra`` seconds more than a small network needs (a large one's tables take longer)."""
        timeout = round((timeout or start_timeout_s()) + extra)
        deadline = time.monotonic() + timeout
        status = {}
        while time.monotonic() < deadline:
            try:
                status = self.api.status()
                if status.get('ready'):
                    return status
                if status.get('error'):
                    raise TestbedError(f'controller {self.name}: {status["error"]}')
            except ControllerUnreachable:
                pass
            time.sleep(0.1)
        shown = {key: value for key, value in status.items() if key != 'switches'}
        if status:
            shown['switches'] = len(status.get('switches', []))
        raise TestbedError(f'controller {self.name} not ready after {timeout} s: {shown or "no answer"}')
