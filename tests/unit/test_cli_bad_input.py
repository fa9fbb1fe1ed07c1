"""Every row of the bad-input table (README): one clear error line, exit code 2, nothing left behind.

These run without root: input is checked before anything is created. The rows that need a live Open vSwitch
(a switch named like a foreign bridge) are in tests/integration/test_cleanup.py.
"""
import os

import pytest

from testbed import cli

BAD_INPUTS = [
    # (argv, words the one error line must contain)
    (['run', 'single', '--param', 'bw=0'], 'bandwidth 0 Mb/s must be above 0'),
    (['run', 'single', '--param', 'bw=-10'], 'bandwidth -10 Mb/s must be above 0'),
    (['run', 'single', '--param', 'delay=3furlongs'], "unknown unit 'furlongs'"),
    (['run', 'single', '--param', 'loss=120'], 'loss 120% must be between 0 and 100%'),
    (['run', 'single', '--param', 'delay=5ms', '--param', 'jitter=9ms'], 'jitter 9 ms exceeds delay 5 ms'),
    (['run', 'single', '--param', 'max_queue_size=0'], 'max_queue_size 0 must be'),
    (['run', 'nope'], "unknown topology 'nope'"),
    (['run', 'linear', '--placement', 'random'], '--placement places nodes on the servers of --cluster'),
    (['run', 'linear', '--cluster', 's1,s1'], "'s1,s1': name each server once"),
    (['run', 'linear', '--cluster', 's1', '--web'], '--web: not with --cluster yet'),
    (['run', 'single', '--param', 'foo'], "--param 'foo' is not KEY=VALUE"),
    (['run', 'linear', '--param', 'm=3'], "topology 'linear' has no parameter 'm'"),
    (['run', '{tmp}/broken.py'], 'does not parse: line'),
    (['run', '{tmp}/broken.yaml'], 'does not parse'),
    (['run', '{tmp}/clash.yaml'], "node name 'h1' is used twice"),
    (['run', '{tmp}/dangling.yaml'], "node 's9' does not exist"),
    (['run', '{tmp}/unknown-param.yaml'], "unknown link parameter 'corrupt'"),
    (['run', '{tmp}/missing.yaml'], 'does not exist'),
    (['run', 'sixtofour', '--param', 'r1=10.0.0.1'], '10.0.0.1 cannot form a 6to4 prefix: it is a private'),
    (['run', 'sixtofour', '--param', 'r2=127.0.0.1'], 'it is a loopback (127.0.0.0/8) address'),
    (['run', 'sixtofour-sites', '--param', 'r1=224.1.1.1'], 'it is a multicast'),
    (['run', 'sixtofour', '--param', 'relays=3'], 'relays'),
    (['run', 'lecture-links', '--param', 'burst=100'], 'burst 100 B needs a bandwidth (bw) and must be 1514'),
    (['experiment', 'run', 'nope'], "unknown experiment 'nope'"),
    (['experiment', 'run', 'sixtofour', '--param', 'foo=1'], "experiment 'sixtofour' has no parameter 'foo'"),
    (['experiment', 'compare', '{tmp}', '{tmp}'], 'is not an experiment results folder'),
    (['experiment', 'run', 'pipe', '--param', 'bw=fast'], "parameter bw='fast' must be a number"),
    (['experiment', 'run', 'circuit-vs-packet', '--param', 'calls=2.5'],
     'calls=2.5 must be a whole number from 1 to 10000'),
    (['experiment', 'run', 'statistical-multiplexing', '--param', 'counts=1,99'], 'must list source counts between'),
    (['vm', 'test', '--suite', 'everything'], "invalid choice: 'everything'"),
    (['run', 'ring', '--controller', '--algorithm', 'dijkstra'], "'dijkstra' is not one of link-state"),
    (['run', 'ring', '--controller', '--algorithm', 'module:{tmp}/none.py'], 'none.py does not exist'),
    (['run', 'bottleneck', '--controller', '--admission', '{tmp}/none.py'], 'none.py does not exist'),
    (['lab', 'start', '9', '--student', 'alice'], "unknown lab '9'"),
    (['lab', 'start', '1'], 'testbed lab start needs --student ID'),
    (['lab', 'grade', '1', '--student', 'alice', '--dir', '{tmp}/nowhere'], 'answers.py does not exist'),
    (['bogus'], "invalid choice: 'bogus'"),
    (['run'], 'the following arguments are required: topology'),
    (['run', '{tmp}/binary.yaml'], 'binary.yaml is not a text file'),
    (['run', '{tmp}/raises.py'], "topology 't' failed to build: RuntimeError: boom"),
    (['run', '{tmp}/exits.py'], 'exits.py called sys.exit(3) while loading'),
    (['run', '{tmp}/exits-in-build.py'], "topology 't' called sys.exit(0) while building"),
    (['run', '{tmp}/not-a-topo.py'], "topology 't' is not a topology"),
    (['run', '{tmp}/plain-long-name.py'], "node name 'averyveryverylongname' must be a letter"),
    (['run', '{tmp}/plain-self-loop.py'], 'link s1-s1: a link needs two different nodes'),
    (['run', '{tmp}/bad-ip.yaml'], "node h1: ip '300.1.1.1/24' is not an IP address"),
    (['run', '{tmp}/same-ip.yaml'], 'address 10.0.0.1 is given to both h1 and h2'),
    (['run', '{tmp}/typo.yaml'], "host h1: unknown option 'ipp' (known: ip, mac, defaultRoute)"),
    (['run', 'sixtofour', '--param', 'r2=192.0.2.1'], 'overlaps that of r2 (192.0.2.0/24)'),
    (['run', 'sixtofour-relay', '--param', 'r1=203.0.113.9'], 'overlaps that of the relays'),
    (['run', '6rd', '--param', 'prefix=2001:db8::/56'], 'the delegated prefix must fit in 64 bits'),
    (['run', '6rd', '--param', 'v4_common=24'], 'is outside the domain\'s common IPv4 prefix 10.64.0.0/24'),
    (['run', '6rd', '--param', 'prefix=2001:db8::/zz'], "6rd prefix '2001:db8::/zz' is not an IPv6 prefix"),
    (['run', 'nat64', '--param', 'prefix=2001:db8::/33'], 'RFC 6052 allows /32, /40, /48, /56, /64 or /96'),
    (['run', 'nat64', '--param', 'prefix=64:ff9b::/96'], 'cannot carry 198.51.100.10, a documentation address'),
    (['run', 'single', '--remote-controller', 'localhost:http'],
     "remote controller 'localhost:http' is not HOST[:PORT]"),
    (['run', 'single', '--controller', '--remote-controller', '127.0.0.1'], 'exclude each other'),
    (['run', 'grid', '--aggregate'], '--aggregate is an option of the testbed\'s router app: add --controller'),
    (['run', 'star', '--controller-runtime', 'os-ken'], '--controller-runtime chooses what runs the testbed\'s'),
    (['run', 'star', '--controller', '--controller-runtime', 'nox'], "invalid choice: 'nox'"),
    (['vm', 'test', '--release', 'sid'], "unknown Debian release 'sid' for the VM stage (known: bookworm (12)"),
    (['vm', 'build', '--release', 'jessie'], "unknown Debian release 'jessie'"),
    (['experiment', 'run', 'packet-delay', '--param', 'probes=0'], 'probes=0 must be a whole number from 1 to 1000'),
    (['experiment', 'run', 'packet-delay', '--param', 'probes=2.5'], 'probes=2.5 must be a whole number'),
    (['experiment', 'run', 'pipe', '--param', 'seconds=-5'], 'seconds=-5 must be a number from 1 to 60'),
    (['experiment', 'run', 'statistical-multiplexing', '--param', 'slots=10000', '--param', 'slot_ms=100'],
     'slots x slot_ms = 1000 s exceeds the 600 s a load test may run'),
    (['circuits', 'teardown', '--id', 'abc'], "needs --id N, a circuit number (see: testbed circuits), not 'abc'"),
    (['circuits', 'teardown'], 'testbed circuits teardown needs --id N'),
    (['circuits', 'reserve', 'h1', 'h1', '4'], 'a circuit joins two different hosts, not h1 to itself'),
    (['circuits', 'reserve', 'h1'], 'testbed circuits reserve needs SRC DST RATE'),
    (['lab', 'start', '1', '--student', '../x'], "student id '../x' must be letters, digits"),
    (['bench', 'links', '--paths', 'bogus'], "argument --paths: invalid choice: 'bogus'"),
    (['vm', 'test', '--timeout', '0'], "argument --timeout: '0' is not a whole number above 0"),
    (['demo', '--results', '/dev/null/x'], '/dev/null/x cannot be a results folder (/dev/null is not a writable'),
    (['experiment', 'run', 'pipe', '--results', '/dev/null/x'], 'cannot be a results folder'),
    (['web'], 'no running network to view'),
    (['web', '--port', '70000'], "argument --port: '70000' is not a TCP port"),
    (['run', 'star', '--web', 'x'], "argument --web: 'x' is not a TCP port"),
]

PLAIN_MININET = 'from mininet.topo import Topo\nclass T(Topo):\n    def build(self):\n        {}\ntopos = {{"t": T}}\n'
TESTBED_TOPO = ('import sys\nfrom testbed.network.topo import TestbedTopo\n'
                'class T(TestbedTopo):\n    def build(self):\n        {}\ntopos = {{"t": T}}\n')


FILES = {
    'binary.yaml': '\0\x01\x02hosts',
    'raises.py': TESTBED_TOPO.format('raise RuntimeError("boom")'),
    'exits.py': 'import sys\nsys.exit(3)\n',
    'exits-in-build.py': TESTBED_TOPO.format('sys.exit(0)'),
    'not-a-topo.py': 'topos = {"t": 42}\n',
    'plain-long-name.py': PLAIN_MININET.format('self.addHost("averyveryverylongname")'),
    'plain-self-loop.py': PLAIN_MININET.format('self.addSwitch("s1"); self.addLink("s1", "s1")'),
    'bad-ip.yaml': 'hosts: {h1: {ip: 300.1.1.1/24}, h2: {}}\nswitches: [s1]\nlinks: [[h1, s1], [h2, s1]]\n',
    'same-ip.yaml': 'hosts: {h1: {ip: 10.0.0.1/24}, h2: {ip: 10.0.0.1/24}}\nswitches: [s1]\n'
                    'links: [[h1, s1], [h2, s1]]\n',
    'typo.yaml': 'hosts: {h1: {ipp: 10.0.0.1/24}}\n',
    'broken.py': 'topos = {\n',
    'broken.yaml': 'hosts: [h1\n',
    'clash.yaml': 'hosts: [h1, h1]\n',
    'dangling.yaml': 'hosts: [h1]\nlinks: [[h1, s9]]\n',
    'unknown-param.yaml': 'hosts: [h1, h2]\nlinks: [[h1, h2, {corrupt: 1}]]\n',
}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    runs = tmp_path / 'runs'
    runs.mkdir()
    monkeypatch.setenv('TESTBED_RUN_ROOT', str(runs))
    return tmp_path


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, f'expected one error line, got: {err}'
    assert err[0].startswith('testbed: error: ')
    return err[0]


@pytest.mark.parametrize('argv, words', BAD_INPUTS, ids=[' '.join(a) for a, _ in BAD_INPUTS])
def test_bad_input(workdir, capsys, argv, words):
    argv = [arg.replace('{tmp}', str(workdir)) for arg in argv]
    assert cli.main(argv) == 2
    line = _one_error_line(capsys)
    assert words in line, f'{line!r} does not name the problem ({words!r})'
    assert os.listdir(workdir / 'runs') == [], 'a rejected input left a run behind'


def test_running_without_root(workdir, capsys, monkeypatch):
    monkeypatch.setattr(os, 'geteuid', lambda: 1000)
    assert cli.main(['run', 'single']) == 2
    assert 'needs root' in _one_error_line(capsys)


def test_bad_testbed_path_variable(workdir, capsys, monkeypatch):
    monkeypatch.setenv('TESTBED_PATH', 'delay=warp')
    assert cli.main(['doctor']) == 2
    assert "TESTBED_PATH item 'delay=warp'" in _one_error_line(capsys)


def test_help_and_list_work(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(['--help'])
    assert done.value.code == 0
    assert cli.main(['list']) == 0
    assert 'linear' in capsys.readouterr().out
