"""Two 6to4 relays with the same anycast address: the nearer one carries the traffic; when it fails, the other."""
import re
import time

from testbed.network.net import running
from topologies.sixtofour import SixToFourTopo

C = '2001:db8:c::10'


def delivered(node):
    time.sleep(0.6)  # the encapsulator writes its counters within 0.25 s of the last packet
    return node.counters()['decap'].get('delivered', 0)


def test_relay_failover_to_the_other_anycast_relay():
    with running(SixToFourTopo(relays=2), controller='router', label='anycast') as network:
        a, relay, relay2 = network['a'], network['relay'], network['relay2']
        a.cmd(f'ping -6 -c 3 -i 0.1 -W 2 {C}')
        first = delivered(relay), delivered(relay2)
        interval = 0.01
        ping = a.popen(['ping', '-6', '-n', '-i', str(interval), '-c', '400', '-W', '1', C])
        time.sleep(1.0)
        failed_at = time.time()  # the controller's timeline is in wall-clock seconds
        network.configLinkStatus('relay', 's2', 'down')   # the nearer relay fails: both of its links go down
        network.configLinkStatus('relay', 'x1', 'down')
        output = ping.communicate(timeout=30)[0].decode()
        stats = re.search(r'(\d+) packets transmitted, (\d+) received', output)
        sent, got = int(stats.group(1)), int(stats.group(2))
        outage_ms = (sent - got) * interval * 1000
        timeline = network.controllers[0].api.timeline()
        events = [entry for entry in timeline if 'attachment' in entry['event'] and entry['received'] >= failed_at]
        last = delivered(relay), delivered(relay2)
        print(f'relay failover: {sent - got} of {sent} pings lost at {interval * 1000:.0f} ms interval -> outage '
              f'{outage_ms:.0f} ms; delivered by relay/relay2 before {first}, after {last}; '
              f'{len(events)} reconvergences; failed at t={failed_at:.3f}')
        assert events, f'no reconvergence for the failed relay\'s attachments in the timeline: {timeline}'
        assert got > 0 and last[1] > first[1] + 100, 'traffic did not move to relay2'
        assert outage_ms < 1000
