"""The web view on real networks, in a real headless browser (Debian's Chromium, driven by Selenium): the star's
forwarding table on the page, a link taken down from the page and the control plane's answer; the live load
against iperf3; tunnel counters moving on the 6to4 network. Screenshots go to ``results/web/``."""
import json
import os
import re
import shutil
import statistics
import threading
import time
import urllib.request

import pytest

from testbed import REPO
from testbed.measure import theory
from testbed.measure.compare import Comparison
from testbed.measure.fidelity import compare_rtt
from testbed.measure.probes import ping_rtts, rtt_summary, tcp_goodput
from testbed.reports.benchweb import poll_like_the_page
from testbed.network.net import running
from testbed.web.server import WebView
from testbed.web.state import NetworkView
from topologies.basic import LinearTopo, PairTopo
from topologies.control import StarTopo
from topologies.sixtofour import SixToFourTopo

CHROMIUM, DRIVER = shutil.which('chromium'), shutil.which('chromedriver')
ARTIFACTS = os.path.join(REPO, 'results', 'web')
SITE_B_HOST = '2002:c633:6401:1::10'   # b, behind r2 (198.51.100.1)
LOAD_TOLERANCE = 0.05      # the page's load against iperf3's, both in frame bytes on the wire
pytestmark = pytest.mark.host_only('the view reads the same counters, tables and files on every path: the host '
                                   'suite tests it')
needs_browser = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                   reason='Chromium and its driver are not installed (make setup installs them)')


def _view(net):
    return WebView(NetworkView(net.run.id, net.run.dir, net.network_record()), port=0)


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                     '--window-size=1400,1000'):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)


def _until(condition, timeout=20.0, what='the page'):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f'{what} did not show it within {timeout:g} s')
        time.sleep(0.25)


def _screenshot(browser, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, name)
    browser.save_screenshot(path)
    print('screenshot:', path)


def _texts(browser, selector, column=None):
    """The text of every element (or of one cell of every row) ``selector`` finds, read in one step: the page
    redraws its tables every few seconds, so elements found one call earlier may be gone."""
    return browser.execute_script(
        'return Array.from(document.querySelectorAll(arguments[0]), e => '
        '(arguments[1] === null ? e : e.cells[arguments[1]]).textContent)', selector, column)


def _destinations(browser, switch):
    return set(_texts(browser, f'#table-{switch} tr.entry', 0))


@needs_browser
def test_star_table_and_a_link_taken_down_from_the_page():
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    with running(StarTopo(), controller='router', label='web-star') as net:
        web = _view(net)
        browser = _browser()
        try:
            browser.get(web.url)
            destinations = _until(lambda: _destinations(browser, 's1') >= {'src', 'UCB', 'NYU', 'MIT', 'UW'} and
                                  _destinations(browser, 's1'), what="s1's table")
            print('s1 on the page:', sorted(destinations))
            assert destinations == {'src', 'UCB', 'NYU', 'MIT', 'UW'}
            # a capture on src's link while the page pings MIT, then the pcap the page offers
            browser.find_element(By.ID, 'link-src-s1').click()
            browser.find_element(By.ID, 'capture-seconds').clear()
            browser.find_element(By.ID, 'capture-seconds').send_keys('3')
            browser.find_element(By.ID, 'capture').click()
            Select(browser.find_element(By.ID, 'src')).select_by_visible_text('src')
            Select(browser.find_element(By.ID, 'dst')).select_by_visible_text('MIT')
            browser.find_element(By.ID, 'ping').click()
            pinged = _until(lambda: 'replies' in browser.find_element(By.ID, 'measure-result').text and
                            browser.find_element(By.ID, 'measure-result').text, what='the ping\'s result')
            print('ping from the page:', pinged)
            assert pinged.startswith('5/5 replies')
            download = _until(lambda: browser.execute_script(
                'return Array.from(document.querySelectorAll("#captures li.done a"), a => a.href)'),
                what='the finished capture')[0]
            with urllib.request.urlopen(download, timeout=10) as answer:
                pcap = answer.read()
            print(f'capture: {len(pcap)} bytes from {download}')
            assert pcap[:4] in (b'\xd4\xc3\xb2\xa1', b'\xa1\xb2\xc3\xd4')   # a pcap file
            assert len(pcap) > 24 + 6 * 98                                     # most of 5 pings and their replies
            events_before = len(_texts(browser, '#timeline li.event'))
            browser.find_element(By.ID, 'link-UCB-s1').click()
            browser.find_element(By.ID, 'link-down').click()
            _until(lambda: 'down' in browser.find_element(By.ID, 'status').text, what='the action\'s answer')
            after = _until(lambda: 'UCB' not in _destinations(browser, 's1') and _destinations(browser, 's1'),
                           what='the new table')
            print('s1 after UCB\'s link went down:', sorted(after))
            assert after == {'src', 'NYU', 'MIT', 'UW'}
            events = _until(lambda: (lambda now: now[:len(now) - events_before])(_texts(browser, '#timeline li.event')),
                            what='the timeline')
            print('timeline:', events)
            assert any('down' in event and 'acknowledged +' in event for event in events)
            assert 'down' in browser.find_element(By.ID, 'link-UCB-s1').get_attribute('class')
            state = _until(lambda: (lambda cells: cells and 'down' in cells[0] and cells[0])(
                _texts(browser, '#loads tr[data-link="UCB-s1"] td.state')), what='the link\'s state, read back')
            print('UCB-s1 state on the page:', state)
            _screenshot(browser, 'star-link-down.png')
            assert net['src'].cmd('ping -c 1 -W 1 10.0.2.10').count(' 0 received') == 1   # UCB is gone for real
        finally:
            browser.quit()
            web.stop()


def _api(web, path):
    with urllib.request.urlopen(f'http://127.0.0.1:{web.port}{path}', timeout=10) as answer:
        return json.loads(answer.read())


@pytest.mark.remeasure('a 5 % comparison of two rates: a busy neighbour moves one run')
def test_the_live_load_matches_iperf3():
    with running(LinearTopo(n=2, bw=20), label='web-load') as net:
        web = _view(net)
        try:
            h1, h2 = net['h1'], net['h2']
            result = {}
            thread = threading.Thread(target=lambda: result.update(run=tcp_goodput(h1, h2, seconds=6, report=True)))
            samples = []
            _api(web, '/api/loads')       # as a page does: the view samples while someone asks
            thread.start()
            time.sleep(2.0)               # past slow start
            # the shaped link s1 -> s2: its sender's counters count what left after the shaper (no drops)
            link = next(link for link in net.network_record()['links'] if {link['a'], link['b']} == {'s1', 's2'})
            direction = 'ab' if link['a'] == 's1' else 'ba'
            for _ in range(3):
                time.sleep(1.0)
                load = next(entry for entry in _api(web, '/api/loads')['links'] if entry['id'] == link['id'])
                if load[direction]:
                    samples.append(load[direction]['bps'])
            thread.join()
            goodput, _ = result['run']
            expected = goodput * theory.full_frame() / theory.tcp_mss()    # payload -> frames on the wire
            measured = statistics.median(samples)
            print(f's1 -> s2: page {measured / 1e6:.2f} Mb/s of frames, iperf3 {goodput / 1e6:.2f} Mb/s of payload '
                  f'= {expected / 1e6:.2f} Mb/s of frames (tolerance {LOAD_TOLERANCE:.0%}); samples {samples}')
            assert len(samples) >= 2 and abs(measured - expected) <= LOAD_TOLERANCE * expected
        finally:
            web.stop()


@needs_browser
def test_tunnel_counters_move_on_the_page_while_a_ping_runs():
    with running(SixToFourTopo(), controller='router', label='web-6to4') as net:   # the demo's network
        web = _view(net)
        browser = _browser()
        try:
            browser.get(web.url)

            def decapsulated():
                cells = _texts(browser, '#tunnels tr[data-node="r2"] td.decap')
                return int(cells[0]) if cells and cells[0].isdigit() else None
            before = _until(lambda: decapsulated() is not None and (decapsulated(),), what='the tunnels table')[0]
            thread = threading.Thread(target=net['a'].cmd, args=(f'ping -6 -c 30 -i 0.1 {SITE_B_HOST}',))
            thread.start()
            after = _until(lambda: (decapsulated() or 0) >= before + 10 and decapsulated(), what='a moving counter')
            thread.join()
            print(f'r2 decapsulated {before} -> {after} on the page while a pinged b')
            _screenshot(browser, 'sixtofour-counters.png')
        finally:
            browser.quit()
            web.stop()


@pytest.mark.remeasure('link fidelity under a busy neighbour: measured afresh once')
def test_link_fidelity_holds_with_the_page_open():
    """The link fidelity checks (test_link_fidelity.py) while a page polls the view as often as it does."""
    with running(PairTopo(), label='web-base') as net:
        base = rtt_summary(ping_rtts(net['h1'], net['h2'].IP(), count=50, interval=0.01))['median']
    with running(PairTopo(bw=10, delay='10ms'), label='web-fidelity') as net:
        web = _view(net)
        page = threading.Thread(target=poll_like_the_page, args=(web.port, 16), daemon=True)
        try:
            page.start()
            h1, h2 = net['h1'], net['h2']
            shaped = rtt_summary(ping_rtts(h1, h2.IP(), count=100, interval=0.01))['median']
            goodput = tcp_goodput(h1, h2, seconds=8) / 1e6
        finally:
            page.join()
            web.stop()
    for comparison in (compare_rtt(f'RTT added by one link of 10 ms with the page open (unshaped {base:.3f} ms)',
                                   shaped - base, [10]),
                       Comparison.within('TCP goodput at 10 Mb/s with the page open', goodput, 9.75, 0.45, 'Mb/s',
                                         'range 93..102 % of bw, as test_link_fidelity')):
        print(comparison)
        assert comparison.ok, str(comparison)


def test_a_second_terminal_attaches_and_acts():
    """``testbed web`` in another process: it finds the running network, reads its tables, acts with its token,
    and stops on Ctrl-C."""
    import signal
    import subprocess
    import sys
    with running(StarTopo(), controller='router', label='web-attach') as net:
        view = subprocess.Popen([sys.executable, '-m', 'testbed', 'web', '--run', net.run.id, '--port', '0'],
                                stderr=subprocess.PIPE, text=True, cwd=REPO)
        try:
            line = view.stderr.readline()
            print('testbed web:', line.strip())
            base, token = re.search(r'(http://\S+)/#token=(\S+)', line).groups()
            tables = json.loads(urllib.request.urlopen(f'{base}/api/tables', timeout=10).read())['tables']
            assert {row['destination'] for row in tables['s1']} == {'src', 'UCB', 'NYU', 'MIT', 'UW'}
            request = urllib.request.Request(f'{base}/api/links/s1/UCB/down', method='POST',
                                             headers={'X-Testbed-Token': token})
            assert json.loads(urllib.request.urlopen(request, timeout=10).read()) == {'link': 'UCB-s1', 'up': False}
            after = _until(lambda: 'UCB' not in {row['destination'] for row in json.loads(urllib.request.urlopen(
                f'{base}/api/tables', timeout=10).read())['tables']['s1']}, what='the attached view')
            assert after
        finally:
            view.send_signal(signal.SIGINT)
            code = view.wait(timeout=10)
            view.stderr.close()
        print('testbed web exit code after Ctrl-C:', code)
        assert code == 130


def test_the_queue_of_a_full_shaped_link_shows():
    """A TCP flow fills a 5 Mb/s link: its sender's HTB queue holds packets (and drops some) on the page's API."""
    with running(LinearTopo(n=2, bw=5), label='web-queue') as net:
        web = _view(net)
        try:
            link = next(link for link in net.network_record()['links'] if {link['a'], link['b']} == {'s1', 's2'})
            direction = 'ab' if link['a'] == 's1' else 'ba'
            _until(lambda: _api(web, '/api/loads')['links'], what='the sampler')   # two samples taken
            flow = threading.Thread(target=tcp_goodput, args=(net['h1'], net['h2']), kwargs={'seconds': 5})
            flow.start()
            queues = []
            try:
                for _ in range(4):
                    time.sleep(1.0)
                    load = next(entry for entry in _api(web, '/api/loads')['links'] if entry['id'] == link['id'])
                    if load[direction] and 'queue' in load[direction]:
                        queues.append(load[direction]['queue'])
            finally:
                flow.join()
            print('s1 -> s2 queue, once a second:', queues)
            assert queues and max(queue['packets'] for queue in queues) > 0
        finally:
            web.stop()


def _load(web, link_id):
    return next(entry for entry in _api(web, '/api/loads')['links'] if entry['id'] == link_id)


def test_a_link_set_down_elsewhere_shows_on_the_page():
    """The link state comes from the interfaces: a link set down with Mininet's own API, not through the view,
    shows down (which end), and up again."""
    with running(PairTopo(), label='web-state') as net:
        web = _view(net)
        try:
            _until(lambda: _api(web, '/api/loads')['links'], what='the sampler')
            assert _load(web, 'h1-h2')['up'] is True
            net.configLinkStatus('h1', 'h2', 'down')
            down = _until(lambda: (lambda load: load['up'] is False and load)(_load(web, 'h1-h2')),
                          what='the link set down by Mininet')
            up = next(link for link in _api(web, '/api/topology')['links'] if link['id'] == 'h1-h2')['up']
            net.configLinkStatus('h1', 'h2', 'up')
            again = _until(lambda: (lambda load: load['up'] is True and load)(_load(web, 'h1-h2')),
                           what='the link set up again')
            print('ends while down:', down['ends'], '; up again:', again['ends'])
            assert down['ends'] == {'a': 'down', 'b': 'down'} and up is False
        finally:
            web.stop()


def test_a_delay_lines_losses_show_on_the_page():
    """On the userspace path, a lossy link's delay line reports its frames in flight and its losses twice a second;
    the page's share of frames lost matches the link's loss (tolerance: 3 binomial standard deviations)."""
    loss, rate, seconds = 0.2, 100, 6       # 20 % loss; pings at 100 per second
    with running(PairTopo(delay='20ms', loss=loss * 100), label='web-line') as net:
        link, = net.network_record()['links']
        if not link['delay_line']:
            pytest.skip('this link has no delay line: the kernel has sch_netem (netem drops in the qdisc, which '
                        'the queue column shows)')
        web = _view(net)
        try:
            _until(lambda: _api(web, '/api/loads')['links'], what='the sampler')
            flow = threading.Thread(target=net['h1'].cmd,
                                    args=(f'ping -q -c {seconds * rate} -i {1 / rate} 10.0.0.2',))
            flow.start()
            lines = []
            try:
                for _ in range(seconds - 1):
                    time.sleep(1.0)
                    load = _load(web, link['id'])
                    if load['ab'] and 'line' in load['ab']:
                        lines.append(load['ab']['line'])
            finally:
                flow.join()
        finally:
            web.stop()
    print(f'h1 -> h2 delay line, once a second: {lines}')
    received = sum(line['received_per_s'] for line in lines)   # about a second per line: frames
    lost = sum(line['lost_per_s'] for line in lines) / received
    spread = 3 * (loss * (1 - loss) / received) ** 0.5
    print(f'share lost: page {lost:.3f} of {received:.0f} frames, link {loss} +- {spread:.3f}')
    assert len(lines) >= 3 and abs(lost - loss) <= spread
