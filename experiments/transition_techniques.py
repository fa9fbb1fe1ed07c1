"""The transition mechanisms side by side on one shaped core link: what each costs against dual stack.

For dual stack (IPv4 and IPv6), a configured 6in4 tunnel, 6rd, 6to4, ISATAP and NAT64, across the same core link
(topologies/transition.py, ``transition-compare``): the TCP payload per frame (MSS) and the largest unfragmented
ping, both exact from the header arithmetic; TCP goodput against native IPv6 on the same link, against the ratio
of their MSS; what an encapsulation or a translation adds to a round trip, and the detour through a 6to4 relay
behind a link of known delay; and the state NAT64 keeps (one session per flow) where the tunnels keep none.
"""
import sys

from testbed.measure import theory as arithmetic
from testbed.measure.fidelity import ENCAPSULATION_BOUND_MS, rtt_tolerance
from testbed.measure.probes import best_goodputs, ping_rtts, reachable, rtt_summary, wire_sized_frames
from testbed.reports.experiment import Experiment, Quantity, hbars
from testbed.sixtofour.addressing import TUNNEL_MTU
from testbed.transition.nat64 import synthesize
from topologies.transition import NAT64_PREFIX, V4_SERVER_COMPARE, TransitionCompareTopo

ICMPV6_ECHO = 8
FLOWS = 3                      # new UDP flows whose NAT64 sessions are counted
# (source, what, destination: a path of _paths, a node (its IPv6 address) or a literal; reachable as the RFCs say?)
MATRIX = (('h6', 'v4srv by its synthesised IPv6 address (NAT64)', 'NAT64', True),
          ('h6', 'v4srv by its IPv4 literal (an IPv6-only host has no IPv4)', V4_SERVER_COMPARE, False),
          ('v4srv', 'h6 (NAT64 lets flows out, none in)', 'h6', False),
          ('t1', 't2 over the configured tunnel', '6in4', True),
          ('t1', 'ds2 over IPv6 (a configured tunnel reaches its peer, not the Internet)', 'dual stack IPv6', False),
          ('ce1', 'ce2 straight across the 6rd domain', '6rd', True),
          ('six1', 'ds2 over IPv6 (native: through the 6to4 relay)', 'dual stack IPv6', True),
          ('is1', 'isr across the core (one ISATAP link over routed IPv4)', 'ISATAP', True))
PATHS = ('dual stack IPv4', 'dual stack IPv6', '6in4', '6rd', '6to4', 'ISATAP', 'NAT64')
TUNNELS = ('6in4', '6rd', '6to4', 'ISATAP')
DETOUR = 'RTT added by the detour through the 6to4 relay'

# mechanism -> (IPv6 MTU along its path, does the core carry it as IPv6 in IPv4?)
MECHANISMS = {'dual stack IPv6': arithmetic.ETHERNET_MTU, '6in4': TUNNEL_MTU, '6rd': TUNNEL_MTU, '6to4': TUNNEL_MTU,
              'ISATAP': TUNNEL_MTU, 'NAT64': arithmetic.ETHERNET_MTU}


def theory(params):
    native = arithmetic.tcp_mss(ip_header=arithmetic.IPV6_HEADER)
    quantities = [Quantity('MSS dual stack IPv4', arithmetic.tcp_mss(), 'B', absolute=0),
                  Quantity('goodput ratio dual stack IPv4 / IPv6', arithmetic.tcp_mss() / native, '', relative=0.02)]
    for name, mtu in MECHANISMS.items():
        mss = arithmetic.tcp_mss(mtu, arithmetic.IPV6_HEADER)
        quantities += [Quantity(f'MSS {name}', mss, 'B', absolute=0),
                       Quantity(f'largest unfragmented ping {name}', mtu - arithmetic.IPV6_HEADER - ICMPV6_ECHO, 'B',
                                absolute=0)]
        if name != 'dual stack IPv6':
            quantities += [Quantity(f'goodput ratio {name} / dual stack IPv6', mss / native, '', relative=0.02),
                           Quantity(f'RTT added per direction {name}', ENCAPSULATION_BOUND_MS, 'ms', bound='max')]
    relay_ms = params['relay_delay_ms']   # its IPv4 and its IPv6 link, each crossed once per direction
    tolerance, _ = rtt_tolerance([relay_ms, relay_ms])
    quantities.append(Quantity(DETOUR, 4 * relay_ms, 'ms', absolute=round(tolerance + 2 * ENCAPSULATION_BOUND_MS, 3)))
    quantities.append(Quantity(f'NAT64 sessions for {FLOWS} new flows', FLOWS, '', absolute=0))
    quantities += [Quantity(f'reachable: {source} -> {what}', float(expected), '', absolute=0)
                   for source, what, _, expected in MATRIX]
    return quantities


def _paths(net):
    """mechanism -> (client, server, server address) across the core."""
    v4srv = str(synthesize(NAT64_PREFIX, V4_SERVER_COMPARE))
    return {'dual stack IPv4': (net['ds1'], net['ds2'], net['ds2'].IP()),
            'dual stack IPv6': (net['ds1'], net['ds2'], net['ds2'].params['ip6'].split('/')[0]),
            '6in4': (net['t1'], net['t2'], str(net['t2'].tunnel_address.ip)),
            '6rd': (net['ce1'], net['ce2'], str(net['ce2'].tunnel_address.ip)),
            '6to4': (net['six1'], net['six2'], str(net['six2'].tunnel_address.ip)),
            'ISATAP': (net['is1'], net['isr'], str(net['isr'].tunnel_address.ip)),
            'NAT64': (net['h6'], net['v4srv'], v4srv)}


def largest_ping(node, address, low=1200, high=1500):
    """The largest ICMPv6 echo payload that crosses unfragmented (binary search with DF set), or None."""
    passes = lambda size: ' 1 received' in node.cmd(f'ping -6 -n -c 1 -W 1 -M do -s {size} {address}')  # noqa
    if not passes(low):
        return None
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if passes(middle) else (low, middle - 1)
    return low


def measure(net, params, repetition, log):
    paths = _paths(net)
    wire_sized_frames(*{node for client, server, _ in paths.values() for node in (client, server)},
                      net['ra'], net['rb'], net['nat64'], net['rly'])
    result = {}
    median_rtt = lambda client, address: rtt_summary(  # noqa: E731
        ping_rtts(client, address, count=params['pings'], interval=0.01))['median']
    rtt = {name: median_rtt(client, address) for name, (client, _, address) in paths.items()}
    rtt['6to4 via the relay'] = median_rtt(net['six1'], paths['dual stack IPv6'][2])
    result[DETOUR] = rtt['6to4 via the relay'] - rtt['dual stack IPv6']
    best = best_goodputs(paths, seconds=params['seconds'], rounds=2, reports=True)
    goodput = {name: value for name, (value, _) in best.items()}
    for name, (value, report) in best.items():
        result[f'MSS {name}'] = report['start'].get('tcp_mss_default')
        result[f'goodput {name} Mb/s'] = value / 1e6
    result['goodput ratio dual stack IPv4 / IPv6'] = goodput['dual stack IPv4'] / goodput['dual stack IPv6']
    for name in MECHANISMS:
        client, _, address = paths[name]
        result[f'largest unfragmented ping {name}'] = largest_ping(client, address)
        if name != 'dual stack IPv6':
            result[f'goodput ratio {name} / dual stack IPv6'] = goodput[name] / goodput['dual stack IPv6']
            result[f'RTT added per direction {name}'] = (rtt[name] - rtt['dual stack IPv6']) / 2
    result['RTT ms'] = rtt
    nat64, (h6, _, address) = net['nat64'], paths['NAT64']
    before = nat64.sessions()
    ports = ', '.join(str(7000 + 100 * repetition + flow) for flow in range(FLOWS))
    h6.cmd(f'{sys.executable} -c "import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); '
           f'[s.sendto(b\'x\', (\'{address}\', port)) for port in ({ports},)]"')
    h6.cmd('sleep 0.3')
    result[f'NAT64 sessions for {FLOWS} new flows'] = nat64.sessions() - before
    for source, what, destination, _ in MATRIX:
        if destination in paths:      # a path's server address
            address = paths[destination][2]
        elif destination in net:      # a node: its IPv6 address
            address = net[destination].params['ip6'].split('/')[0]
        else:                         # a literal
            address = destination
        result[f'reachable: {source} -> {what}'] = float(reachable(net[source], address, deadline=4)[0])
    return result


def notes(result):
    first = result['raw']['repetitions'][0]
    rows = ['| path | goodput (Mb/s) | MSS (B) | median RTT (ms) |', '|---|---|---|---|']
    for name in PATHS:
        rows.append(f'| {name} | {first[f"goodput {name} Mb/s"]:.2f} | {first[f"MSS {name}"]} | '
                    f'{first["RTT ms"][name]:.3f} |')
    rows.append(f'| 6to4 to native IPv6 (via the relay) | | | {first["RTT ms"]["6to4 via the relay"]:.3f} |')
    return rows + ['', 'Every path crosses the same shaped core link (ra == rb), so the frames on the wire are the '
                   'same size and the goodputs differ by the payload each frame carries: IPv4 1448 bytes, native '
                   'IPv6 1428, a tunnel (6in4, 6rd, 6to4, ISATAP) 1408 (its 20-byte IPv4 header shrinks the IPv6 MTU '
                   'to 1480), NAT64 1428 on the core (the packet is IPv6 until the translator). Tunnels keep no '
                   'state in the network; the NAT64 keeps one session per flow (counted from its connection '
                   'tracking), which is what makes it the network\'s state, and its limit.', '',
                   'Reachability (1 reached, 0 not) as the RFCs predict: the IPv6-only host reaches the IPv4-only '
                   'server only through the translator\'s prefix, never by its IPv4 literal (464XLAT\'s CLAT is '
                   'what fixes that, `testbed run nat64`), and the server cannot open a flow toward it; a configured '
                   'tunnel reaches its peer and nothing else; 6rd customers reach each other without the BR; a 6to4 '
                   'site reaches native IPv6 only through a relay, and pays for the relay\'s place: here it sits '
                   'behind a link of `relay_delay_ms`, crossed twice each way (IPv4 in, IPv6 out), so the round trip '
                   'grows by four times that delay, whatever the direct path.']


def plot(result, folder):
    first = result['raw']['repetitions'][0]
    bars = [(name, first[f'goodput {name} Mb/s'], 'C1' if name in TUNNELS else 'C0') for name in PATHS]
    return hbars(folder, 'transition-goodput.png', bars, 'TCP goodput over the same core link (Mb/s)')


EXPERIMENT = Experiment(
    name='transition-techniques', title='IPv6 transition mechanisms side by side: what each costs',
    model='On a link of MTU 1500, TCP carries 1448 payload bytes per frame over IPv4 and 1428 over IPv6 (a 40-byte '
          'header). A tunnel (6in4, 6rd, 6to4, ISATAP) puts a 20-byte IPv4 header in front, so the IPv6 MTU is 1480 '
          'and '
          'TCP carries 1408: a goodput ratio of 1408/1428 = 0.986 against native IPv6 on the same frames. NAT64 '
          'carries IPv6 up to the translator, so the core sees native IPv6 frames (ratio 1). A tunnel adds no path '
          'here (each pair crosses the same core), only its processing, except 6to4 toward native IPv6: through '
          'the relay, whose two links of delay d add 4d to the round trip. NAT64 keeps one session per flow.',
    topology=lambda params: TransitionCompareTopo(
        bw=params['bw'], delay=f'{params["delay_ms"]}ms' if params['delay_ms'] else None,
        relay_delay=f'{params["relay_delay_ms"]}ms' if params['relay_delay_ms'] else None),
    theory=theory, measure=measure, notes=notes, plot=plot,
    # 50 Mb/s: slow enough that no userspace encapsulator or translator is CPU-bound on 2 vCPUs (a CPU-bound path
    # would hide the 20 bytes), fast enough that they show
    params={'bw': 50, 'delay_ms': 0, 'relay_delay_ms': 5, 'seconds': 4, 'pings': 50}, repetitions=1,
    ranges={'bw': (1, 1000), 'delay_ms': (0, 100), 'relay_delay_ms': (0, 100), 'seconds': (1, 60),
            'pings': (1, 1000, 'whole')})
