"""The web view without a network: its pure parts, and its HTTP server over a fake network (token, refusals)."""
import json
import urllib.error
import urllib.request

import pytest

from testbed.web.view import (API, Counters, Sample, WebRequestError, bounded, find_link, layout, link_loads, link_up,
                              names, node_kind, openapi, parse_net_dev, route)

NET_DEV = '''Inter-|   Receive                                     |  Transmit
 face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0       0
h1-eth0: 1000 10 0 2 0 0 0 0 5000 50 0 3 0 0 0 0
'''
LINKS = [{'id': 'h1-s1', 'a': 'h1', 'a_intf': 'h1-eth0', 'b': 's1', 'b_intf': 's1-eth1', 'bw': 10e6, 'delay': 0.005},
         {'id': 'h2-s1', 'a': 'h2', 'a_intf': 'h2-eth0', 'b': 's1', 'b_intf': 's1-eth2', 'bw': None, 'delay': 0}]


def test_counters_and_loads_from_two_samples():
    counters = parse_net_dev(NET_DEV)
    assert counters['h1-eth0'] == Counters(1000, 10, 2, 5000, 50, 3) and set(counters) == {'lo', 'h1-eth0'}
    before = {'h1': {'h1-eth0': Counters(0, 0, 0, 0, 0, 0)}, 's1': {'s1-eth1': Counters(0, 0, 0, 0, 0, 0)}}
    after = {'h1': {'h1-eth0': Counters(0, 0, 0, 2_500_000, 2000, 4)},
             's1': {'s1-eth1': Counters(0, 0, 0, 1250, 25, 0)}}
    first, second = link_loads(LINKS, Sample(10.0, before), Sample(12.0, after))
    assert first['ab'] == {'bps': 10e6, 'pps': 1000, 'drops_per_s': 2} and first['ba']['bps'] == 5000
    assert first['utilisation'] == 1.0                       # 10 Mb/s on a 10 Mb/s link
    assert second == {'id': 'h2-s1', 'ab': None, 'ba': None, 'utilisation': None, 'up': None,
                      'ends': None}                          # never seen: no figure
    recreated = {'h1': {'h1-eth0': Counters(0, 0, 0, 10, 1, 0)}}
    assert link_loads(LINKS[:1], Sample(0, after), Sample(1, recreated))[0]['ab'] is None   # not a negative rate


def test_link_state_is_both_ends():
    assert link_up({'a': 'up', 'b': 'up'}) is True
    assert link_up({'a': 'up', 'b': 'no carrier'}) is False and link_up({'a': 'down', 'b': 'up'}) is False
    assert link_up({'a': 'up', 'b': None}) is None and link_up(None) is None       # an end not found: unknown
    counters = {'h1': {'h1-eth0': Counters(0, 0, 0, 0, 0, 0)}}
    load, = link_loads(LINKS[:1], Sample(0, counters), Sample(1, counters, states={'h1-h2': {}, 'h1-s1': {
        'a': 'down', 'b': 'no carrier'}}))
    assert load['up'] is False and load['ends'] == {'a': 'down', 'b': 'no carrier'}


def test_a_delay_lines_counters_over_its_own_time():
    """Losses per second over the time between the line's two writes, not the view's samples."""
    counters = {'h1': {'h1-eth0': Counters(0, 0, 0, 0, 0, 0)}, 's1': {'s1-eth1': Counters(0, 0, 0, 0, 0, 0)}}

    def line(at, received, lost, overflow, in_flight):
        return {'h1-s1': {'at': at, 'a_to_b': {'received': received, 'lost': lost, 'overflow': overflow,
                                                'in_flight': in_flight}}}
    load, = link_loads(LINKS[:1], Sample(0.0, counters, lines=line(100.0, 0, 0, 0, 0)),
                       Sample(1.0, counters, lines=line(100.5, 100, 10, 2, 7)))
    assert load['ab']['line'] == {'in_flight': 7, 'received_per_s': 200.0, 'lost_per_s': 20.0, 'overflow_per_s': 4.0}
    assert 'line' not in load['ba']                          # the other direction was not in the file
    same, = link_loads(LINKS[:1], Sample(0.0, counters, lines=line(100.0, 5, 0, 0, 0)),
                       Sample(1.0, counters, lines=line(100.0, 5, 0, 0, 0)))
    restarted, = link_loads(LINKS[:1], Sample(0.0, counters, lines=line(100.0, 50, 0, 0, 0)),
                            Sample(1.0, counters, lines=line(101.0, 3, 0, 0, 0)))
    assert 'line' not in same['ab'] and 'line' not in restarted['ab']   # no time passed; a new line: no figure


def test_node_kinds_and_a_stable_layout():
    assert node_kind(['SixToFourRelay', 'SixToFourRouter', 'Node']) == 'relay'
    assert node_kind(['TestbedSwitch', 'OVSSwitch', 'Switch', 'Node']) == 'switch'
    assert node_kind(['RoutedHost', 'Host', 'Node']) == 'host' and node_kind(['Thing']) == 'host'
    nodes = ['s1', 'h1', 'h2', 'lonely']
    links = [('h1', 's1'), ('h2', 's1')]
    first, again = layout(nodes, links), layout(list(reversed(nodes)), links)
    assert first == again and set(first) == set(nodes)
    assert all(0.05 <= value <= 0.95 for position in first.values() for value in position)
    big = [f'n{i}' for i in range(100)]
    placed = layout(big, [(big[i], big[i + 1]) for i in range(99)])
    assert len({tuple(p) for p in placed.values()}) == 100     # 100 nodes, no two on one spot


def test_requests_are_checked():
    assert find_link(LINKS, 's1', 'h1')['id'] == 'h1-s1'
    with pytest.raises(WebRequestError, match="no node 'nowhere'") as unknown:
        find_link(LINKS, 'h1', 'nowhere')
    assert unknown.value.status == 404
    with pytest.raises(WebRequestError, match='no link between h1 and h2'):
        find_link(LINKS, 'h1', 'h2')
    assert route('POST', '/api/links/h1/s1/down') == ('/api/links/{a}/{b}/down', {'a': 'h1', 'b': 's1'})
    assert route('GET', '/api/loads?x=1') == ('/api/loads', {})
    with pytest.raises(WebRequestError) as wrong_method:
        route('GET', '/api/links/h1/s1/down')
    assert wrong_method.value.status == 405
    with pytest.raises(WebRequestError) as missing:
        route('GET', '/api/../etc/passwd')
    assert missing.value.status == 404
    assert bounded({'count': 3}, 'count', 'count', 5) == 3 and bounded({}, 'count', 'count', 5) == 5
    for bad in ({'count': 0}, {'count': 21}, {'count': 2.5}, {'count': True}, {'count': '3'}, ['count']):
        with pytest.raises(WebRequestError, match='count must be a whole number from 1 to 20'):
            bounded(bad, 'count', 'count', 5)
    assert names({'src': 'h1', 'dst': 'h2'}, 'src', 'dst') == ('h1', 'h2')
    with pytest.raises(WebRequestError, match="'src', 'dst'"):
        names({'src': 'h1', 'dst': 7}, 'src', 'dst')
    description = openapi('0.1')
    assert description['openapi'].startswith('3.') and len(description['paths']) == len({p for _, p, _, _ in API})
    assert description['paths']['/api/links/{a}/{b}/down']['post']['security'] == [{'token': []}]


class FakeView:
    """What the server asks of a network, without one."""
    run_id = 'fake'

    def __init__(self):
        self.actions = []

    def topology(self):
        return {'run': 'fake', 'nodes': [], 'links': LINKS}

    def loads(self):
        return {'seconds': 1.0, 'links': []}

    def set_link(self, a, b, up):
        link = find_link(LINKS, a, b)
        self.actions.append((link['id'], up))
        return {'link': link['id'], 'up': up}

    def sampler(self, stop):
        stop.wait()

    def close(self):
        pass


def _call(web, method, path, token=None, body=None, host=None):
    headers = {'X-Testbed-Token': token} if token else {}
    if host:
        headers['Host'] = host
    request = urllib.request.Request(f'http://127.0.0.1:{web.port}{path}', method=method, headers=headers,
                                     data=body)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def test_the_server_answers_refuses_and_needs_the_token():
    from testbed.web.server import WebView
    fake = FakeView()
    web = WebView(fake, port=0, token='secret')
    try:
        assert web.httpd.server_address[0] == '127.0.0.1' and web.url.endswith('#token=secret')
        status, page = _call(web, 'GET', '/')
        assert status == 200 and b'<svg id="topology"' in page
        assert _call(web, 'GET', '/app.js')[0] == 200
        assert json.loads(_call(web, 'GET', '/api/topology')[1])['links'] == LINKS
        refusals = {'no token': _call(web, 'POST', '/api/links/h1/s1/down'),
                    'wrong token': _call(web, 'POST', '/api/links/h1/s1/down', 'guess'),
                    'unknown node': _call(web, 'POST', '/api/links/h1/nowhere/down', 'secret'),
                    'unknown path': _call(web, 'GET', '/api/nothing'),
                    'file outside': _call(web, 'GET', '/../server.py'),
                    'wrong method': _call(web, 'PUT', '/api/topology'),
                    'rebound name': _call(web, 'GET', '/api/topology', host=f'evil.example:{web.port}')}
        print({what: status for what, (status, _) in refusals.items()})
        assert {what: status for what, (status, _) in refusals.items()} == {
            'no token': 401, 'wrong token': 403, 'unknown node': 404, 'unknown path': 404, 'file outside': 404,
            'wrong method': 405, 'rebound name': 403}
        assert all(set(json.loads(body)) == {'error'} for _, body in refusals.values())
        assert fake.actions == []                                   # nothing refused changed anything
        status, body = _call(web, 'POST', '/api/links/s1/h1/down', 'secret')
        assert (status, json.loads(body)) == (200, {'link': 'h1-s1', 'up': False})
        assert fake.actions == [('h1-s1', False)]
    finally:
        web.stop()


def test_the_results_folder_serves_only_what_it_lists(tmp_path):
    from testbed.web.server import WebView
    from testbed.web.state import NetworkView
    run = tmp_path / 'packet-delay-20261202-1200'
    run.mkdir(parents=True)
    (run / 'report.md').write_text('# Packet delay\n')
    (run / 'plot.png').write_bytes(b'\x89PNG')
    (run / 'secret.key').write_text('no')               # not a kind of file the view serves
    (tmp_path / 'loose.md').write_text('not in a run folder')
    view = NetworkView('r', str(tmp_path), {'nodes': {}, 'links': []}, results=str(tmp_path))
    assert view.results_answer()['folders'] == [{'name': 'packet-delay-20261202-1200',
                                                 'files': ['plot.png', 'report.md']}]
    web = WebView(view, port=0, token='secret')
    try:
        status, body = _call(web, 'GET', '/api/results/packet-delay-20261202-1200/report.md')
        assert (status, body) == (200, b'# Packet delay\n')
        for path in ('/api/results/packet-delay-20261202-1200/secret.key', '/api/results/x/..%2Floose.md',
                     '/api/results/..%2F..%2Fetc/passwd', '/api/results/packet-delay-20261202-1200/..%2F..%2Floose.md'):
            status, body = _call(web, 'GET', path)
            assert status == 404 and b'no result' in body, path
    finally:
        web.stop()


def test_queues_from_tc_json():
    from testbed.web.view import parse_qdiscs
    text = ('[{"kind": "noqueue", "dev": "lo", "root": true, "drops": 0, "backlog": 0, "qlen": 0},'
            ' {"kind": "htb", "dev": "s1-eth2", "root": true, "drops": 7, "backlog": 30280, "qlen": 20},'
            ' {"kind": "pfifo", "dev": "s1-eth2", "parent": "1:1", "drops": 7, "backlog": 30280, "qlen": 20}]')
    queues = parse_qdiscs(text)
    assert queues['s1-eth2'] == {'backlog_bytes': 30280, 'backlog_packets': 20, 'drops': 7}   # the root's alone
    assert parse_qdiscs('') == {}
    link = [{'id': 's1-s2', 'a': 's1', 'a_intf': 's1-eth2', 'b': 's2', 'b_intf': 's2-eth2', 'bw': 5e6, 'delay': 0}]
    before = {'s1': {'s1-eth2': Counters(0, 0, 0, 0, 0, 0)}}
    after = {'s1': {'s1-eth2': Counters(0, 0, 0, 625_000, 420, 0)}}
    earlier = {'s1': {'s1-eth2': {'backlog_bytes': 0, 'backlog_packets': 0, 'drops': 1}}}
    (load,) = link_loads(link, Sample(0.0, before, earlier), Sample(1.0, after, {'s1': queues}))
    assert load['ab']['queue'] == {'packets': 20, 'bytes': 30280, 'drops_per_s': 6.0} and load['utilisation'] == 1.0
