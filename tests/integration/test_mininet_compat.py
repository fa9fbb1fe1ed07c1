"""Mininet compatibility: a controller the user runs (Ryu's own simple_switch_13), Mininet's ``intf.config`` on a
testbed link on each delay path, plain Mininet classes in a process that used the testbed, and the README's
Mininet-CLI instructions typed into ``testbed run --cli``.

Tolerances: as tests/integration/test_link_fidelity.py (RTT added within max(0.3 ms, 2 %) per link; TCP goodput
93-102 % of the rate).
"""
import functools
import os
import signal
import subprocess
import sys

import pytest

from testbed.control.ryu import free_port
from testbed.measure.compare import Comparison
from testbed.measure.fidelity import compare_rtt
from testbed.measure.probes import ping_rtts, rtt_summary, tcp_goodput
from testbed.network.net import running
from testbed.system.probe import probe
from topologies.basic import LinearTopo, PairTopo

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def check(comparison):
    print(comparison)
    assert comparison.ok, str(comparison)


def run_testbed(*args, stdin=None, timeout=300):
    return subprocess.run([sys.executable, '-m', 'testbed', *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


@pytest.fixture
def simple_switch():
    """The README's command: Ryu's simple_switch_13 through testbed.ryu_compat, on a free port; stopped by PID."""
    port = free_port()
    process = subprocess.Popen([sys.executable, '-m', 'testbed.ryu_compat', '--ofp-listen-host', '127.0.0.1',
                                '--ofp-tcp-listen-port', str(port), 'ryu.app.simple_switch_13'],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        yield f'127.0.0.1:{port}'
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_remote_controller_of_the_users_switches_the_network(simple_switch):
    shown = run_testbed('run', 'linear', '--param', 'n=3', '--remote-controller', simple_switch, '--test', 'pingall')
    print(shown.stdout, shown.stderr)
    assert shown.returncode == 0 and 'pingall: 0% dropped' in shown.stdout
    with running(LinearTopo(n=3, bw=10), remote_controller=simple_switch) as net:
        goodput = tcp_goodput(net['h1'], net['h3'], seconds=5) / 1e6
    check(Comparison.within('TCP goodput h1->h3 through simple_switch_13 at 10 Mb/s', goodput, 9.75, 0.45, 'Mb/s',
                     'range 93..102 % of bw'))


@pytest.mark.host_only('refused before any data-plane path is set up')
def test_a_remote_controller_that_does_not_listen_is_one_error():
    port = free_port()
    shown = run_testbed('run', 'single', '--remote-controller', f'127.0.0.1:{port}', '--test', 'none', timeout=60)
    errors = [line for line in shown.stderr.splitlines() if line.startswith('testbed: error: ')]
    assert shown.returncode == 2 and errors == [errors[-1]], shown.stderr
    assert f'no OpenFlow controller listens on 127.0.0.1:{port}' in errors[0]


def test_intf_config_reshapes_one_direction(delay_path, plan_for):
    plan = plan_for(delay_path)
    with running(PairTopo(), plan=plan) as net:
        base = rtt_summary(ping_rtts(net['h1'], net['h2'].IP(), count=30))['median']
    with running(PairTopo(bw=10, delay='5ms'), plan=plan) as net:  # 10 Mb/s: clean even on an emulated CPU
        h1, h2 = net['h1'], net['h2']
        link = net.links[0]
        link.intf1.config(delay='20ms')  # Mininet's call: h1's egress only; bw stays
        rtt = rtt_summary(ping_rtts(h1, h2.IP(), count=50))['median'] - base
        check(compare_rtt(f'{delay_path} RTT added after h1-eth0 config(delay=20ms), h2-eth0 still 5 ms', rtt,
                          [12.5]))
        h2.intf().config(bw=4)
        back, forth = tcp_goodput(h2, h1, seconds=4) / 1e6, tcp_goodput(h1, h2, seconds=4) / 1e6
        assert 'h1->h2: 10 Mb/s, 20 ms; h2->h1: 4 Mb/s, 5 ms' == link.describe()
    check(Comparison.within(f'{delay_path} TCP goodput h2->h1 after config(bw=4)', back, 3.9, 0.18, 'Mb/s',
                     'range 93..102 % of bw'))
    check(Comparison.within(f'{delay_path} TCP goodput h1->h2 untouched at 10 Mb/s', forth, 9.75, 0.45, 'Mb/s',
                     'range 93..102 % of bw'))


def test_plain_mininet_still_works_after_the_testbed():
    from mininet.net import Mininet
    from mininet.node import OVSSwitch
    from mininet.topo import LinearTopo as MininetLinear
    with running(PairTopo(delay='1ms')):
        pass
    datapath = 'kernel' if probe().has('openvswitch') else 'user'
    net = Mininet(MininetLinear(k=2), switch=functools.partial(OVSSwitch, datapath=datapath, failMode='standalone'),
                  controller=None, cleanup=False)
    try:
        net.start()
        assert net.pingAll(timeout=2) == 0
    finally:
        net.stop()


@pytest.mark.host_only('the sixtofour network with the controller takes minutes to start under emulation')
def test_the_readmes_cli_instructions_work():
    """README: `testbed run topologies/basic.py:linear --cli`, and `a ping6 -c 3 c` in the 6to4 network's CLI."""
    shown = run_testbed('run', 'topologies/basic.py:linear', '--cli', stdin='h1 ping -c 3 h2\nexit\n')
    assert shown.returncode == 0 and ' 0% packet loss' in shown.stderr, shown.stdout + shown.stderr  # Mininet: stderr
    shown = run_testbed('run', 'sixtofour', '--controller', '--cli', stdin='a ping6 -c 3 c\nb ping6 -c 3 a\nexit\n')
    print(shown.stderr)
    assert shown.returncode == 0 and shown.stderr.count(' 0% packet loss') == 2, shown.stdout + shown.stderr
