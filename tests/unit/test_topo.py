"""Topologies as data: registry, files, parameters and the mistakes they reject (no root)."""
import json

import pytest

from testbed.errors import TestbedError
from testbed.network.topo import TestbedTopo, from_spec, parse_params
from testbed.network.topo import load as load_any
from testbed.reports.catalog import known_topologies, topologies


def load(spec, params=None):
    return load_any(spec, params, known_topologies())


def test_registry_lists_the_basic_topologies():
    assert {'pair', 'single', 'linear', 'dumbbell'} <= set(topologies())


@pytest.mark.parametrize('name, params, hosts, switches, links', [
    ('pair', {}, 2, 0, 1),
    ('single', {'n': 5}, 5, 1, 5),
    ('linear', {'n': 4}, 4, 4, 7),
    ('dumbbell', {'n': 3}, 6, 2, 7),
    ('fanin', {'n': 5}, 6, 2, 7),
])
def test_node_and_link_counts(name, params, hosts, switches, links):
    topo, _ = load(name, params)
    assert (len(topo.hosts()), len(topo.switches()), len(topo.links())) == (hosts, switches, links)


def test_link_params_are_exposed_for_theory():
    topo, _ = load('linear', {'n': 3, 'delay': '5ms', 'bw': 10})
    shaped = [(a, b, p) for a, b, p in topo.link_params() if p.delay]
    assert [(a, b) for a, b, _ in shaped] == [('s1', 's2'), ('s2', 's3')]
    assert all(p.delay == 0.005 and p.bw == 10e6 for _, _, p in shaped)


def test_params_parse_types():
    assert parse_params(['n=4', 'delay=10ms', 'x=2.5', 'flag=true']) == {'n': 4, 'delay': '10ms', 'x': 2.5,
                                                                          'flag': True}


@pytest.mark.parametrize('item', ['foo', '=3', 'n=', '1x=3'])
def test_malformed_param(item):
    with pytest.raises(TestbedError, match='is not KEY=VALUE'):
        parse_params([item])


def test_unknown_topology_and_parameter():
    with pytest.raises(TestbedError, match="unknown topology 'nope'"):
        load('nope')
    with pytest.raises(TestbedError, match="has no parameter 'm'"):
        load('linear', {'m': 3})
    with pytest.raises(TestbedError, match='n=0 must be'):
        load('linear', {'n': 0})


def test_name_clash_and_missing_node():
    topo = TestbedTopo()
    topo.addHost('h1')
    with pytest.raises(TestbedError, match="'h1' is used twice"):
        topo.addSwitch('h1')
    with pytest.raises(TestbedError, match="node 'h9' does not exist"):
        topo.addLink('h1', 'h9')
    with pytest.raises(TestbedError, match='letter followed by'):
        topo.addHost('a-very-long-host-name')


def test_python_file(tmp_path):
    good = tmp_path / 'mine.py'
    good.write_text('from testbed.network.topo import TestbedTopo\n'
                    'class T(TestbedTopo):\n'
                    '    def build(self, n=2):\n'
                    '        self.addSwitch("s1")\n'
                    '        for i in range(n):\n'
                    '            self.addHost(f"h{i+1}"); self.addLink(f"h{i+1}", "s1")\n'
                    'topos = {"mine": T}\n')
    topo, name = load(str(good), {'n': 3})
    assert name == 'mine' and len(topo.hosts()) == 3
    bad = tmp_path / 'broken.py'
    bad.write_text('topos = {\n')
    with pytest.raises(TestbedError, match='does not parse: line'):
        load(str(bad))
    empty = tmp_path / 'empty.py'
    empty.write_text('x = 1\n')
    with pytest.raises(TestbedError, match='no "topos" dictionary'):
        load(str(empty))
    with pytest.raises(TestbedError, match='does not exist'):
        load(str(tmp_path / 'missing.py'))


def test_declarative_files(tmp_path):
    spec = {'hosts': ['h1', 'h2'], 'switches': ['s1'],
            'links': [['h1', 's1', {'bw': 10, 'delay': '2ms'}], {'a': 'h2', 'b': 's1'}]}
    path = tmp_path / 'net.json'
    path.write_text(json.dumps(spec))
    topo, _ = load(str(path))
    assert len(topo.links()) == 2
    yaml_path = tmp_path / 'net.yaml'
    yaml_path.write_text('hosts: [h1]\nswitches: [s1]\nlinks:\n  - [h1, s1, {delay: 1ms}]\n')
    assert len(load(str(yaml_path))[0].links()) == 1


@pytest.mark.parametrize('text, words', [
    ('hosts: [h1\n', 'does not parse'),
    ('hosts: [h1, h1]\n', "'h1' is used twice"),
    ('hosts: [h1]\nlinks: [[h1, s9]]\n', "node 's9' does not exist"),
    ('hosts: [h1]\nroutes: []\n', "unknown section 'routes'"),
    ('hosts: [h1, h2]\nlinks: [[h1, h2, {bw: 0}]]\n', 'bandwidth 0 Mb/s'),
    ('hosts: [h1, h2]\nlinks: [[h1]]\n', 'link #1 must be'),
    ('- just a list\n', 'expected a mapping'),
])
def test_declarative_mistakes(tmp_path, text, words):
    path = tmp_path / 'bad.yaml'
    path.write_text(text)
    with pytest.raises(TestbedError, match=words):
        load(str(path))


def test_from_spec_host_options():
    topo = from_spec({'hosts': {'h1': {'ip': '10.0.0.1/24'}}, 'switches': [], 'links': []})
    assert topo.nodeInfo('h1')['ip'] == '10.0.0.1/24'


def test_sizes_are_the_address_plans_not_arbitrary_caps():
    """A flat network numbers up to 65534 hosts (a /16 above 254); routed hosts get a /24 each up to 65279, past
    which 10.255/16 (the switches' own addresses) would be reached."""
    from topologies.basic import LinearTopo, flat_host_ip
    from topologies.control import GridTopo
    assert flat_host_ip(3, 3) == '10.0.0.3/24' and flat_host_ip(300, 500) == '10.0.1.44/16'
    big = LinearTopo(n=300)
    addresses = {big.nodeInfo(host)['ip'] for host in big.hosts()}
    assert len(addresses) == 300 and '10.0.1.44/16' in addresses
    grid = GridTopo(rows=22, cols=23)
    assert len(grid.switches()) == 506 and grid.nodeInfo('h300')['ip'] == '10.1.44.10/24'
    assert grid.nodeInfo('h300')['defaultRoute'] == 'via 10.1.44.1'
    with pytest.raises(ValueError, match='exceeds 65279'):
        GridTopo(rows=300, cols=300)
