"""``testbed bench web``: what the live web view costs while a page looks at a 20-switch network.

The view runs as its own process (``testbed web``, as a user in another terminal would start it) next to a
``linear`` network of 20 switches under the controller. For a window with no page open, then for a window with
a page's polling (each part as often as the page asks for it: ``testbed.web.view.POLL_S``), it reads the CPU
time of the view (with the ``ovs-ofctl`` and ``nsenter`` it runs), of ``ovs-vswitchd`` and of the controller
from ``/proc``. Target: the open page adds under 5 % of one CPU.
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

from testbed.web.view import DEFAULT_PORT, POLL_S

SWITCHES = 20
WINDOW_S = 20.0
TARGET = 0.05                  # of one CPU, added by an open page
VSWITCHD_PID = '/var/run/openvswitch/ovs-vswitchd.pid'


def cpu_seconds(pid):
    """CPU time of a process and of the children it waited for (user + system), in seconds."""
    with open(f'/proc/{pid}/stat') as handle:
        fields = handle.read().rsplit(')', 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf('SC_CLK_TCK')


def _free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def _get(port, path):
    with urllib.request.urlopen(f'http://127.0.0.1:{port}{path}', timeout=10) as answer:
        return json.loads(answer.read())


def poll_like_the_page(port, seconds):
    """Ask the view at ``port`` for each part as often as the page does, for ``seconds``."""
    started = time.monotonic()
    tick = 0
    while time.monotonic() - started < seconds:
        for path, every in POLL_S.items():
            if tick % every == 0:
                _get(port, path)
        tick += 1
        time.sleep(max(0.0, started + tick - time.monotonic()))


def measure(pids, seconds, port=None):
    """{name: CPU share of one core} over ``seconds``; with ``port``, polling the view as the page does."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.monotonic()
    if port:
        poll_like_the_page(port, seconds)
    else:
        time.sleep(seconds)
    elapsed = time.monotonic() - started
    return {name: (cpu_seconds(pid) - before[name]) / elapsed for name, pid in pids.items()}


def run_web_bench(as_json=False):
    from testbed.network.net import running
    from topologies.basic import LinearTopo
    with open(VSWITCHD_PID) as handle:
        vswitchd = int(handle.read().strip())
    with running(LinearTopo(n=SWITCHES), controller='router', label='bench-web') as net:
        port = _free_port()
        view = subprocess.Popen([sys.executable, '-m', 'testbed', 'web', '--run', net.run.id, '--port', str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        net.run.record_process(view.pid, 'web view (bench)')
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    _get(port, '/api/topology')
                    break
                except OSError:
                    if view.poll() is not None or time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            pids = {'web view': view.pid, 'ovs-vswitchd': vswitchd, 'controller': net.controllers[0].process.pid}
            closed = measure(pids, WINDOW_S)
            opened = measure(pids, WINDOW_S, port)
        finally:
            view.terminate()
            view.wait()
    added = sum(opened.values()) - sum(closed.values())
    result = {'switches': SWITCHES, 'window_s': WINDOW_S, 'closed': closed, 'open': opened, 'added': added,
              'target': TARGET, 'pass': added < TARGET, 'port_default': DEFAULT_PORT}
    if as_json:
        print(json.dumps(result, indent=1))
    else:
        print(f'web view on linear,{SWITCHES} with the controller: CPU share of one core over {WINDOW_S:g} s windows')
        print(f'  {"process":<14} {"page closed":>12} {"page open":>10}')
        for name in closed:
            print(f'  {name:<14} {closed[name]:>11.1%} {opened[name]:>10.1%}')
        print(f'  added by the open page: {added:.1%} of one CPU (target under {TARGET:.0%}): '
              f'{"pass" if added < TARGET else "FAIL"}')
    return 0 if added < TARGET else 1
