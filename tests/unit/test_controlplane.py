"""The control plane's plan and flows, without switches: flow specs and reading tables back from dumps."""
from testbed.control.flows import (COOKIE_PUNT, COOKIE_ROUTE, PRIORITY_ROUTE_BASE, attachments_from_plan,
                                  graph_from_plan, parse_dumped_routes, punt_flows, reconvergence_flow_mods,
                                  route_flows, router_ipv4, router_mac, unroutable)
from testbed.control.routing import compute_routes

PLAN = {
    'switches': {
        's1': {'dpid': 1, 'mac': router_mac(1), 'ipv4': router_ipv4(1), 'ports': {}},
        's2': {'dpid': 2, 'mac': router_mac(2), 'ipv4': router_ipv4(2), 'ports': {}},
    },
    'links': [{'a': 's1', 'a_port': 2, 'b': 's2', 'b_port': 3, 'delay': 0.005, 'bw': None}],
    'attachments': [
        {'prefix': '10.0.1.0/24', 'switch': 's1', 'port': 1, 'name': 'h1', 'mac': '00:00:00:00:00:01',
         'gateway': '10.0.1.1'},
        {'prefix': '2001:db8:2::/64', 'switch': 's2', 'port': 1, 'name': 'h2', 'mac': '00:00:00:00:00:02',
         'gateway': '2001:db8:2::1'},
    ],
}


def test_router_identity():
    assert router_mac(1) == '0a:00:00:00:00:01' and router_mac(0x1234) == '0a:00:00:00:12:34'
    assert router_ipv4(258) == '10.255.1.2'


def test_route_flows_rewrite_like_a_router():
    tables = compute_routes(graph_from_plan(PLAN), attachments_from_plan(PLAN)).tables
    s1 = {flow.match[1][1][0]: flow for flow in route_flows('s1', tables['s1'], PLAN)}
    local, remote = s1['10.0.1.0'], s1['2001:db8:2::']
    assert local.priority == PRIORITY_ROUTE_BASE + 24 and local.cookie == COOKIE_ROUTE
    assert local.match == (('eth_type', 0x0800), ('ipv4_dst', ('10.0.1.0', '255.255.255.0')))
    assert local.actions == (('dec_ttl',), ('set_field', 'eth_src', router_mac(1)),
                             ('set_field', 'eth_dst', '00:00:00:00:00:01'), ('output', 1))
    assert remote.match[0] == ('eth_type', 0x86dd)
    assert remote.actions[2] == ('set_field', 'eth_dst', router_mac(2)) and remote.actions[3] == ('output', 2)


def test_punt_flows_only_for_gateways_on_that_switch():
    s1 = punt_flows('s1', PLAN)
    assert len(s1) == 1 and s1[0].cookie == COOKIE_PUNT and s1[0].actions == (('controller',),)
    assert dict(s1[0].match)['arp_tpa'] == '10.0.1.1' and dict(s1[0].match)['in_port'] == 1
    s2 = punt_flows('s2', PLAN)
    assert dict(s2[0].match)['ipv6_nd_target'] == '2001:db8:2::1'


DUMP = """\
 cookie=0x5442000000000001, duration=3.1s, table=0, n_packets=5, n_bytes=490, priority=1024,ip,nw_dst=10.0.2.0/24 actions=dec_ttl,set_field:0a:00:00:00:00:01->eth_src,set_field:00:00:00:00:00:02->eth_dst,output:2
 cookie=0x5442000000000001, duration=3.1s, table=0, n_packets=0, n_bytes=0, priority=1064,ipv6,ipv6_dst=2001:db8:2::/64 actions=dec_ttl,set_field:0a:00:00:00:00:01->eth_src,set_field:0a:00:00:00:00:02->eth_dst,output:3
 cookie=0x5442000000000002, duration=3.1s, table=0, n_packets=1, n_bytes=42, priority=60000,arp,in_port=1,arp_tpa=10.0.1.1,arp_op=1 actions=CONTROLLER:65535
 cookie=0x0, duration=3.2s, table=0, n_packets=9, n_bytes=900, priority=65535,dl_dst=01:80:c2:00:00:0e,dl_type=0x88cc actions=CONTROLLER:65535
"""


def test_parse_dumped_routes():
    assert parse_dumped_routes(DUMP) == [('10.0.2.0/24', 2, 5), ('2001:db8:2::/64', 3, 0)]


def test_a_failure_costs_only_the_changed_entries():
    """A triangle s1-s2-s3, one prefix per switch; cutting s1-s2 re-points one route on s1 and one on s2."""
    switches = {f's{i}': {'dpid': i, 'mac': router_mac(i), 'ipv4': router_ipv4(i), 'ports': {}} for i in (1, 2, 3)}
    links = [{'a': a, 'a_port': pa, 'b': b, 'b_port': pb} for a, pa, b, pb in
             (('s1', 2, 's2', 2), ('s2', 3, 's3', 2), ('s3', 3, 's1', 3))]
    attachments = [{'prefix': f'10.0.{i}.0/24', 'switch': f's{i}', 'port': 1, 'name': f'h{i}',
                    'mac': f'00:00:00:00:00:0{i}'} for i in (1, 2, 3)]
    plan = {'switches': switches, 'links': links, 'attachments': attachments}
    before = graph_from_plan(plan)
    after = before.copy()
    after.remove_edge('s1', 's2')
    assert reconvergence_flow_mods(plan, before, after) == {'s1': 1, 's2': 1}
    assert reconvergence_flow_mods(plan, after, before) == {'s1': 1, 's2': 1}  # the repair undoes it
    assert reconvergence_flow_mods(plan, before, before) == {}


def test_a_flat_network_is_refused_by_the_router_app_with_the_reason():
    assert unroutable(PLAN) is None
    flat = {**PLAN, 'attachments': PLAN['attachments'] + [
        {'prefix': '10.0.1.0/24', 'switch': 's2', 'port': 1, 'name': 'h3', 'mac': '00:00:00:00:00:03',
         'host_ip': '10.0.1.11', 'gateway': None}]}
    reason = unroutable(flat)
    assert reason.startswith('hosts h1 (s1) and h3 (s2) share the subnet 10.0.1.0/24') and '--controller' in reason
    relays = [{'prefix': '192.88.99.0/24', 'switch': switch, 'port': 1, 'name': name, 'host_ip': '192.88.99.1'}
              for switch, name in (('s2', 'relay'), ('s3', 'relay2'))]
    assert unroutable({**PLAN, 'attachments': relays}) is None      # one address in two places: anycast
