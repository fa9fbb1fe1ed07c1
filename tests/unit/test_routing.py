"""Route computation without switches: the lecture's star, rings, metrics, both algorithms, failures."""
import networkx as nx
import pytest

from testbed.control.routing import (Attachment, RoutingError, aggregate_table, compute_routes, lookup, next_hops,
                                     table_diff)


def link(graph, a, pa, b, pb, delay=0.001, bw=None):
    graph.add_edge(a, b, ports={a: pa, b: pb}, delay=delay, bw=bw)


def ring(n):
    graph = nx.Graph()
    for i in range(1, n + 1):
        j = i % n + 1
        link(graph, f's{i}', 2, f's{j}', 3)
    attachments = [Attachment(f'10.0.{i}.0/24', f's{i}', 1, f'h{i}') for i in range(1, n + 1)]
    return graph, attachments


def test_lecture_star_single_switch():
    graph = nx.Graph()
    graph.add_node('s1')
    attachments = [Attachment('10.0.2.0/24', 's1', 2, 'UCB'), Attachment('10.0.3.0/24', 's1', 3, 'NYU'),
                   Attachment('10.0.4.0/24', 's1', 4, 'MIT'), Attachment('10.0.5.0/24', 's1', 5, 'UW')]
    table = compute_routes(graph, attachments).tables['s1']
    assert {r.neighbour: r.port for r in table} == {'UCB': 2, 'NYU': 3, 'MIT': 4, 'UW': 5}
    assert lookup(table, '10.0.2.7').port == 2  # a packet "to UCB" leaves on link #2


@pytest.mark.parametrize('algorithm', ['link-state', 'distance-vector'])
def test_ring_takes_the_shorter_way_round(algorithm):
    graph, attachments = ring(6)
    result = compute_routes(graph, attachments, algorithm=algorithm)
    s1 = result.tables['s1']
    assert lookup(s1, '10.0.2.1').neighbour == 's2'
    assert lookup(s1, '10.0.6.1').neighbour == 's6'
    # s4 is 3 hops either way: the tie goes to the neighbour whose name sorts first (s2)
    assert lookup(s1, '10.0.4.1').neighbour == 's2' and lookup(s1, '10.0.4.1').cost == 3


def test_both_algorithms_agree_and_dv_reports_rounds():
    graph, attachments = ring(8)
    ls = compute_routes(graph, attachments, 'link-state')
    dv = compute_routes(graph, attachments, 'distance-vector')
    assert ls.tables == dv.tables
    assert dv.rounds == 4  # the ring's diameter: news travels one hop per exchange
    assert ls.rounds == 0


def test_metric_changes_the_path():
    graph = nx.Graph()
    link(graph, 'a', 1, 'b', 1, delay=0.050)   # direct but long
    link(graph, 'a', 2, 'c', 1, delay=0.001)
    link(graph, 'c', 2, 'b', 2, delay=0.001)
    attachments = [Attachment('10.9.0.0/24', 'b', 9, 'dst')]
    assert compute_routes(graph, attachments, metric='hops').tables['a'][0].neighbour == 'b'
    assert compute_routes(graph, attachments, metric='delay').tables['a'][0].neighbour == 'c'


def test_bandwidth_metric_prefers_the_fat_pipe():
    graph = nx.Graph()
    link(graph, 'a', 1, 'b', 1, bw=1e6)
    link(graph, 'a', 2, 'c', 1, bw=1e9)
    link(graph, 'c', 2, 'b', 2, bw=1e9)
    attachments = [Attachment('10.9.0.0/24', 'b', 9)]
    assert compute_routes(graph, attachments, metric='bandwidth').tables['a'][0].neighbour == 'c'


def test_longest_prefix_first_and_ipv6():
    graph = nx.Graph()
    graph.add_node('s1')
    attachments = [Attachment('2002::/16', 's1', 3, 'relay'), Attachment('10.0.0.0/8', 's1', 1, 'wide'),
                   Attachment('10.1.0.0/16', 's1', 2, 'narrow'), Attachment('2001:db8:c::/64', 's1', 4, 'c')]
    table = compute_routes(graph, attachments).tables['s1']
    assert [r.prefix for r in table] == ['10.1.0.0/16', '10.0.0.0/8', '2001:db8:c::/64', '2002::/16']
    assert lookup(table, '10.1.2.3').neighbour == 'narrow'
    assert lookup(table, '10.2.0.1').neighbour == 'wide'
    assert lookup(table, '2002:c000:201::1').neighbour == 'relay'
    assert lookup(table, '192.0.2.1') is None


def test_failure_changes_only_what_it_must():
    graph, attachments = ring(6)
    before = compute_routes(graph, attachments).tables
    graph.remove_edge('s1', 's2')
    after = compute_routes(graph, attachments).tables
    changed, removed = table_diff(before['s1'], after['s1'])
    assert removed == []
    assert {r.prefix for r in changed} == {'10.0.2.0/24', '10.0.3.0/24', '10.0.4.0/24'}
    assert all(r.neighbour == 's6' for r in changed)
    assert table_diff(before['s5'], after['s5']) == ([], [])  # s5's shortest paths never used s1-s2


def test_partition_leaves_unreachable_prefixes_out():
    graph = nx.Graph()
    link(graph, 'a', 1, 'b', 1)
    graph.add_node('island')
    attachments = [Attachment('10.0.1.0/24', 'a', 5), Attachment('10.0.9.0/24', 'island', 5)]
    tables = compute_routes(graph, attachments).tables
    assert [r.prefix for r in tables['b']] == ['10.0.1.0/24']


@pytest.mark.parametrize('kwargs, words', [
    ({'algorithm': 'rip'}, "unknown algorithm 'rip'"),
    ({'metric': 'colour'}, "unknown metric 'colour'"),
])
def test_bad_choices(kwargs, words):
    graph, attachments = ring(3)
    with pytest.raises(RoutingError, match=words):
        compute_routes(graph, attachments, **kwargs)


def test_bad_plan():
    graph, _ = ring(3)
    with pytest.raises(RoutingError, match="unknown switch 's9'"):
        compute_routes(graph, [Attachment('10.0.0.0/24', 's9', 1, 'x')])
    with pytest.raises(RoutingError, match='bad prefix'):
        compute_routes(graph, [Attachment('10.0.0.300/24', 's1', 1, 'x')])


@pytest.mark.parametrize('algorithm', ['link-state', 'distance-vector'])
def test_anycast_prefix_goes_to_the_nearest_attachment(algorithm):
    graph = nx.Graph()
    link(graph, 's1', 2, 's2', 3)
    link(graph, 's2', 2, 's3', 3)
    anycast = [Attachment('192.88.99.0/24', 's2', 9, 'relay'), Attachment('192.88.99.0/24', 's3', 9, 'relay2')]
    tables = compute_routes(graph, anycast, algorithm=algorithm).tables
    assert [(r.port, r.neighbour) for r in tables['s1']] == [(2, 's2')]        # one route, toward relay
    assert [(r.port, r.local) for r in tables['s2']] == [(9, True)]
    assert [(r.port, r.neighbour) for r in tables['s3']] == [(9, 'relay2')]
    without = compute_routes(graph, anycast[1:], algorithm=algorithm).tables    # relay withdrawn
    assert lookup(without['s1'], '192.88.99.1').neighbour == 's2' and without['s2'][0].port == 2


def test_next_hops_plain_data_with_the_tie_rule():
    costs = {'s1': {'s2': 1.0, 's3': 4.0}, 's2': {'s1': 1.0, 's3': 1.0}, 's3': {'s1': 4.0, 's2': 1.0}}
    assert next_hops(costs, 's1') == {'s2': [1.0, 's2'], 's3': [2.0, 's2']}
    square = {'a': {'b': 1, 'c': 1}, 'b': {'a': 1, 'd': 1}, 'c': {'a': 1, 'd': 1}, 'd': {'b': 1, 'c': 1}, 'e': {}}
    assert next_hops(square, 'a')['d'] == [2.0, 'b']  # equal cost: the first hop whose name sorts first
    assert 'e' not in next_hops(square, 'a')          # unreachable: left out


def grid(rows, cols):
    """The grid topology's graph and address plan (topologies.control.GridTopo): host K's /24 and /64 on port 1."""
    graph = nx.Graph()
    for k in range(1, rows * cols + 1):
        graph.add_node(f's{k}')
        if k % cols:
            link(graph, f's{k}', 2, f's{k + 1}', 3)
        if k + cols <= rows * cols:
            link(graph, f's{k}', 4, f's{k + cols}', 5)
    attachments = [Attachment(prefix, f's{k}', 1, f'h{k}') for k in range(1, rows * cols + 1)
                   for prefix in (f'10.{k >> 8}.{k & 255}.0/24', f'2001:db8:{k:x}::/64')]  # /64s 2^80 apart
    return graph, attachments


def test_aggregated_tables_forward_every_address_the_same_way_with_fewer_entries():
    graph, attachments = grid(8, 9)
    tables = compute_routes(graph, attachments).tables
    before = after = 0
    for switch, table in tables.items():
        merged = aggregate_table(table)
        before += sum(route.network.version == 4 for route in table)
        after += sum(route.network.version == 4 for route in merged)
        for attachment in attachments:
            for address in (attachment.network[1], attachment.network[-1]):
                expected = lookup(table, str(address))
                assert (lookup(merged, str(address)).port, lookup(merged, str(address)).neighbour) \
                    == (expected.port, expected.neighbour), (switch, address)
        # addresses no host has stay without a route (10.0.0.0/24 and 10.0.73.0/24 lie either side of the plan)
        assert lookup(merged, '10.0.0.1') is None and lookup(merged, '10.0.73.1') is None
        assert [r for r in merged if r.local] == [r for r in table if r.local]
    print(f'8 x 9 grid, IPv4: {before} entries, {after} aggregated')
    assert after * 2 < before


def test_nested_prefixes_are_not_aggregated():
    graph = nx.Graph()
    link(graph, 's1', 2, 's2', 3)
    attachments = [Attachment('10.0.0.0/16', 's2', 1, 'wide'), Attachment('10.0.2.0/24', 's2', 4, 'a'),
                   Attachment('10.0.3.0/24', 's2', 5, 'b'), Attachment('2001:db8:0:2::/64', 's2', 4, 'a'),
                   Attachment('2001:db8:0:3::/64', 's2', 5, 'b')]
    table = compute_routes(graph, attachments).tables['s1']
    merged = aggregate_table(table)
    assert [r.prefix for r in merged] == ['10.0.2.0/24', '10.0.3.0/24', '10.0.0.0/16', '2001:db8:0:2::/63']
