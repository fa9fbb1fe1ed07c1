"""The pure parts of the reliability work, without root: signals held and delivered, input checks, ranges,
run-time reshaping of a delay line direction, and an unusable run-state directory."""
import os
import signal

import pytest
from mininet.topo import Topo

from testbed.reports import experiment
from testbed.control.circuits import AdmissionError, CircuitBook
from testbed.control.ryu import parse_controller_address
from testbed.link.delayline import MIN_FRAME, Direction
from testbed.errors import TestbedError
from testbed.system.interrupts import Stopped, deferred_signals, exit_code, stop_on_signals
from testbed.link.params import LinkParams
from testbed.system.runstate import Run, list_runs
from testbed.network.topo import instantiate, validate
from topologies.sixtofour import check_routers


def test_a_signal_inside_a_deferred_block_arrives_after_it():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_signals():
            os.kill(os.getpid(), signal.SIGINT)
            done.append('the block finished first')
    assert done == ['the block finished first']


def test_sigterm_unwinds_as_stopped_with_the_shells_exit_code():
    with pytest.raises(Stopped) as stopped:
        with stop_on_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0.1)  # give the handler a bytecode boundary
    assert exit_code(stopped.value) == 143
    assert exit_code(KeyboardInterrupt()) == 130
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # restored


def test_controller_addresses():
    assert parse_controller_address('127.0.0.1') == ('127.0.0.1', 6653)
    assert parse_controller_address('ctl.example:6633') == ('ctl.example', 6633)
    assert parse_controller_address('[::1]:7000') == ('::1', 7000)
    for bad in ('', ':6653', 'h:0', 'h:70000', 'h:x', 'a:b:c'):
        with pytest.raises(TestbedError):
            parse_controller_address(bad)


class PlainTopo(Topo):
    def build(self, first='h1', second='s1', **opts):
        self.addHost(first, **opts)
        self.addSwitch(second)
        self.addLink(first, second)


@pytest.mark.parametrize('kwargs, words', [
    ({'first': 'averyveryverylongname'}, 'must be a letter followed by up to 9'),
    ({'ip': '10.0.0.300/24'}, "ip '10.0.0.300/24' is not an IP address"),
    ({'ip6': 'fe80::zz/64'}, 'is not an IP address'),
])
def test_plain_mininet_topologies_are_validated(kwargs, words):
    with pytest.raises(TestbedError, match=words):
        validate(PlainTopo(**kwargs))


def test_a_self_loop_and_a_duplicate_address_are_refused():
    loop = Topo()
    loop.addSwitch('s1')
    loop.addLink('s1', 's1')
    with pytest.raises(TestbedError, match='two different nodes'):
        validate(loop)
    twice = PlainTopo(ip='10.0.0.1/24')
    twice.addHost('h2', ip='10.0.0.1/8')
    twice.addLink('h2', 's1')
    with pytest.raises(TestbedError, match='10.0.0.1 is given to both h1 and h2'):
        validate(twice)


def test_what_a_users_build_does_wrong_is_named():
    def raises():
        raise KeyError('x')

    def exits():
        raise SystemExit(4)

    for factory, words in ((raises, "failed to build: KeyError: 'x'"), (exits, r'called sys.exit\(4\)'),
                           (lambda: 'text', 'gave a str, not a Mininet Topo'), (42, 'is not a topology')):
        with pytest.raises(TestbedError, match=words):
            instantiate(factory, {}, 't')


def test_6to4_sites_need_networks_of_their_own():
    check_routers(r1='192.0.2.1', r2='198.51.100.1')
    with pytest.raises(TestbedError, match='overlaps that of r2'):
        check_routers(relay=False, r1='192.0.2.1', r2='192.0.2.9')
    with pytest.raises(TestbedError, match='overlaps that of the relays'):
        check_routers(r1='203.0.113.200')


def test_every_numeric_experiment_parameter_has_a_range():
    for name, item in experiment.registry().items():
        assert experiment.unranged(item) == [], f'{name}: parameters without a range'
        experiment.merged_params(item, {})  # the defaults are inside their own ranges


def test_a_circuit_to_itself_is_refused():
    with pytest.raises(AdmissionError, match='not h1 to itself'):
        CircuitBook().reserve({'s1': {}}, 's1', 's1', 1e6, 'h1', 'h1')


def test_link_parameters_change_one_at_a_time():
    params = LinkParams.from_options({'bw': 10, 'delay': '5ms'})
    changed = params.changed({'delay': '20ms'})
    assert changed.delay == pytest.approx(0.020) and changed.bw == 10e6
    with pytest.raises(TestbedError, match='jitter 30 ms exceeds delay 20 ms'):
        changed.changed({'jitter': '30ms'})


class FakeSocket:
    def __init__(self):
        self.sent = []

    def send(self, frame):
        self.sent.append(frame)


def test_a_delay_line_direction_takes_new_parameters_with_frames_in_flight():
    out = FakeSocket()
    direction = Direction('a_to_b', out, delay=0.010)
    direction.arrive(b'a' * MIN_FRAME, now=0.0)
    direction.retime(delay=0.050, jitter=0.001, loss=0.0, limit=10, seed=1, rate=0.0)
    direction.arrive(b'b' * MIN_FRAME, now=0.001)
    assert direction.next_due() == pytest.approx(0.010)  # the frame in flight keeps its due time
    direction.release(horizon=0.02)
    assert out.sent == [b'a' * MIN_FRAME]
    direction.retime(delay=0.0, limit=10)  # back to a FIFO
    direction.release(horizon=1.0)
    assert out.sent == [b'a' * MIN_FRAME, b'b' * MIN_FRAME]


def test_an_unusable_run_state_directory_is_one_error(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    with pytest.raises(TestbedError, match='run-state directory .* is unusable: Not a directory'):
        Run('x', root=str(blocker / 'runs'))


def test_a_run_directory_being_created_is_not_taken_for_an_abandoned_one(tmp_path):
    (tmp_path / 'starting').mkdir()  # no owner.json yet
    assert list_runs(str(tmp_path)) == [('starting', str(tmp_path / 'starting'), True)]
