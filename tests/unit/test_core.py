"""The controller core without switches or root: events and an explicit clock in, commands out.

A triangle s1-s2-s3, a host network on s1 and one on s3, links with a rate (so circuits can hold them)."""
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether

from testbed.control.circuits import AdmissionError
from testbed.control.core import RouterCore, link_key
from testbed.control.flows import COOKIE_CIRCUIT, router_ipv4, router_ipv6, router_mac

LINKS = [('s1', 2, 's2', 2), ('s2', 3, 's3', 2), ('s1', 3, 's3', 3)]
PLAN = {
    'switches': {name: {'dpid': dpid, 'mac': router_mac(dpid), 'ipv4': router_ipv4(dpid), 'ipv6': router_ipv6(dpid),
                        'ports': {}} for dpid, name in enumerate(('s1', 's2', 's3'), 1)},
    'links': [{'a': a, 'a_port': ap, 'b': b, 'b_port': bp, 'delay': 0.001, 'bw': 10e6} for a, ap, b, bp in LINKS],
    'attachments': [
        {'prefix': '10.0.1.0/24', 'switch': 's1', 'port': 1, 'name': 'h1', 'mac': '00:00:00:00:00:01',
         'gateway': '10.0.1.254', 'host_ip': '10.0.1.10'},
        {'prefix': '10.0.3.0/24', 'switch': 's3', 'port': 1, 'name': 'h3', 'mac': '00:00:00:00:00:03',
         'gateway': '10.0.3.254', 'host_ip': '10.0.3.10'},
    ],
}


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        self.now += 0.001
        return self.now


def kinds(commands):
    return [(command.kind, command.switch) for command in commands]


def started(**kwargs):
    """A core that saw every switch connect and every link come up; the commands of its start."""
    core = RouterCore(PLAN, clock=Clock(), **kwargs)
    commands = []
    for name in ('s1', 's2', 's3'):
        commands += core.switch_connected(name)
        core.route_count(name, 0)
    for link in LINKS:
        commands += core.link_up(*link)
    return core, commands


def test_tables_are_installed_once_every_switch_and_link_is_there():
    core = RouterCore(PLAN, clock=Clock())
    first = core.switch_connected('s1')
    assert kinds(first) == [('async', 's1'), ('flows', 's1'), ('route_count', 's1')] and not core.ready
    core, commands = started()
    bundles = {command.switch: command for command in commands if command.kind == 'bundle'}
    assert core.ready and set(bundles) == {'s1', 's2', 's3'}
    assert len(bundles['s2'].specs) == 2 and not bundles['s2'].deletions  # two prefixes, nothing to delete
    entry = core.timeline[0]
    assert entry['event'].startswith('initial') and entry['waiting'] == 3 and entry['flow_mods'] == 6
    core.sent(entry)
    for _ in range(3):
        assert not core.status()['ready']
        core.acknowledged(entry)
    assert core.status()['ready'] and entry['received'] <= entry['computed'] <= entry['sent'] <= entry['acknowledged']
    assert not [c for c in commands if c.kind == 'route_dump'], 'no switch held routes: nothing to reconcile'


def test_a_link_failure_sends_only_the_changed_entries():
    core, _ = started()
    commands = core.port_status('s1', 3, True, received=200.0)  # the direct s1-s3 link goes down
    bundles = {command.switch: command for command in commands if command.kind == 'bundle'}
    assert set(bundles) == {'s1', 's3'}, 's2 routes the same way as before'
    assert [spec.actions[-1] for spec in bundles['s1'].specs] == [('output', 2)]  # 10.0.3.0/24 now via s2
    assert core.timeline[-1]['event'] == 'port s1:3 down (PortStatus)' and core.timeline[-1]['flow_mods'] == 2
    assert link_key('s1', 3, 's3', 3) not in core.links


def test_a_restarted_controller_deletes_only_stale_entries():
    core = RouterCore(PLAN, clock=Clock())
    for name in ('s1', 's2', 's3'):
        core.switch_connected(name)
        core.route_count(name, 2)  # entries a previous controller left
    commands = []
    for link in LINKS:
        commands += core.link_up(*link)
    assert kinds([c for c in commands if c.kind == 'route_dump']) == [('route_dump', n) for n in ('s1', 's2', 's3')]
    s1 = next(c for c in commands if c.kind == 'bundle' and c.switch == 's1')
    held = [(spec.priority, dict(spec.match)) for spec in s1.specs]
    stale = (s1.specs[0].priority, {'eth_type': 0x0800, 'ipv4_dst': ('10.0.9.0', '255.255.255.0')})
    deletions = core.stale_routes('s1', held + [stale])
    assert [(c.kind, c.priority, c.match) for c in deletions] == [('delete_route', *stale)]


def test_circuits_get_flows_and_meters_and_are_refused_with_a_reason():
    core, _ = started()
    circuit, commands = core.reserve('h1', 'h3', 6e6)
    assert circuit.path == ('s1', 's3')
    meters = {c.switch: c for c in commands if c.kind == 'meters'}
    assert set(meters) == {'s1', 's3'} and meters['s1'].meters == {3: 4e6} and meters['s1'].meters_new == {3}
    assert {c.switch for c in commands if c.kind == 'flows'} >= {'s1', 's3'}
    second, _ = core.reserve('h1', 'h3', 6e6)  # s1-s3 has 4 Mb/s left: the longer way round, s1-s2-s3
    assert second.path == ('s1', 's2', 's3')
    with pytest.raises(AdmissionError, match='no path from h1 to h3 with 6 Mb/s'):
        core.reserve('h1', 'h3', 6e6)
    _, commands = core.teardown(circuit.id)
    assert [(c.kind, c.switch, c.cookie) for c in commands if c.kind == 'delete_cookie'] == [
        ('delete_cookie', 's1', COOKIE_CIRCUIT + circuit.id), ('delete_cookie', 's3', COOKIE_CIRCUIT + circuit.id)]
    meters = {c.switch: c for c in commands if c.kind == 'meters' and not c.meters_removed}
    assert meters['s1'].meters == {2: 4e6} and not meters['s1'].meters_new  # the second circuit's link, unchanged
    assert [(c.switch, c.meters_removed) for c in commands if c.meters_removed] == [('s1', {3}), ('s3', {3})]


def test_arp_for_a_gateway_is_answered_and_counted():
    core, _ = started()
    request = bytes(Ether(src='00:00:00:00:00:01', dst='ff:ff:ff:ff:ff:ff') /
                    ARP(op=1, hwsrc='00:00:00:00:00:01', psrc='10.0.1.10', pdst='10.0.1.254'))
    (reply,) = core.packet_in('s1', 1, request, ttl_expired=False)
    assert reply.kind == 'packet' and reply.port == 1 and reply.data[6:12] == bytes.fromhex('0a0000000001')
    assert core.packet_in('s2', 1, request, ttl_expired=False) == []  # not a gateway on s2
    assert core.status()['packet_ins'] == {'arp': 2}


def test_an_expired_packet_gets_time_exceeded_from_the_switch_address():
    core, _ = started()
    expired = bytes(Ether() / IP(src='10.0.1.10', dst='10.0.3.10', ttl=1) / UDP(dport=33434))
    (reply,) = core.packet_in('s2', 2, expired, ttl_expired=True)
    answer = IP(reply.data[14:])
    assert answer.src == router_ipv4(2) and answer.dst == '10.0.1.10' and answer.proto == 1
    assert core.status()['packet_ins'] == {'ttl_expired': 1}


def test_a_failing_routing_module_is_reported_not_raised():
    from testbed.control.routing import RoutingError

    def broken():
        raise RoutingError('routing module lab.py does not load: SyntaxError')
    core, commands = started(algorithm=broken, label='module:lab.py')
    assert not [c for c in commands if c.kind == 'bundle']
    assert 'does not load' in core.status()['error'] and core.status()['algorithm'] == 'module:lab.py'


def test_a_failed_link_ends_the_circuits_across_it():
    core, _ = started()
    circuit, _ = core.reserve('h1', 'h3', 4e6)
    commands = core.link_down(link_key('s1', 3, 's3', 3), 'LLDP timeout', received=300.0)
    assert ('delete_cookie', 's1', COOKIE_CIRCUIT + circuit.id) in [(c.kind, c.switch, c.cookie) for c in commands]
    assert core.timeline[-1]['circuits_torn_down'] == [circuit.id] and not core.book.circuits
