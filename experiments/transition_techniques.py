"""The transition mechanisms side by side on one shaped core link: what each costs against dual stack.

For dual stack (IPv4 and IPv6), a configured 6in4 tunnel, 6rd, 6to4, ISATAP, IPv4-compatible tunnels, NAT64 and
464XLAT, across the same core link (topologies/transition.py, ``transition-compare``): the TCP payload per frame
(MSS) and the largest unfragmented ping, both exact from the header arithmetic; TCP goodput against native IPv6
on the same link, against the ratio of their MSS; what an encapsulation or a translation adds to a round trip;
the detour through a 6to4 relay and through a tunnel broker's server, each behind links of known delay; the
state NAT64 keeps (one session per flow) where the tunnels keep none; and who reaches whom, as the RFCs say.
"""
import sys

from testbed.measure import theory as arithmetic
from testbed.measure.fidelity import ENCAPSULATION_BOUND_MS, rtt_tolerance
from testbed.measure.probes import best_goodputs, ping_rtts, reachable, rtt_summary, wire_sized_frames
from testbed.reports.experiment import Experiment, Quantity, hbars
from testbed.sixtofour.addressing import TUNNEL_MTU
from testbed.transition.nat64 import clat_ipv4_mtu, synthesize
from topologies.transition import NAT64_PREFIX, V4_SERVER_COMPARE, TransitionCompareTopo

FLOWS = 3                      # new UDP flows whose NAT64 sessions are counted
IPV4, IPV6, MTU = arithmetic.IPV4_HEADER, arithmetic.IPV6_HEADER, arithmetic.ETHERNET_MTU
# path -> (MTU for the packets the application sends, their IP header, encapsulations or translations each way)
MECHANISMS = {'dual stack IPv4': (MTU, IPV4, 0), 'dual stack IPv6': (MTU, IPV6, 0),
              '6in4': (TUNNEL_MTU, IPV6, 1), '6rd': (TUNNEL_MTU, IPV6, 1), '6to4': (TUNNEL_MTU, IPV6, 1),
              'ISATAP': (TUNNEL_MTU, IPV6, 1), 'v4compat': (TUNNEL_MTU, IPV6, 1),
              'NAT64': (MTU, IPV6, 1), '464XLAT': (clat_ipv4_mtu(MTU), IPV4, 2)}   # CLAT, then NAT64
# Where a ping's limit is not the path's MTU: the IPv4 server's echo reply leaves without DF (Linux sends its ICMP
# replies so), so the PLAT (Tayga) fragments its translation at the IPv6 minimum MTU, and the CLAT (Tayga too) passes
# no fragmented ICMP back (captured: the fragments reach its TUN device, no IPv4 comes out). TCP sets DF: not hit.
PING_MTU = {'464XLAT': (arithmetic.IPV6_MINIMUM_MTU, IPV6)}
TUNNELS = ('6in4', '6rd', '6to4', 'ISATAP', 'v4compat')
BASELINE = 'dual stack IPv6'
# detour -> the node whose way to ds2's native IPv6 address takes it (the direct way: ds1's)
DETOURS = {'6to4 relay': 'six1', 'tunnel broker\'s server': 'bc1'}
# (source, what, destination: a path of _paths, a node (its IPv6 address) or a literal; reachable as the RFCs say?)
MATRIX = (('h6', 'v4srv by its synthesised IPv6 address (NAT64)', 'NAT64', True),
          ('h6', 'v4srv by its IPv4 literal (an IPv6-only host has no IPv4)', V4_SERVER_COMPARE, False),
          ('x6', 'v4srv by its IPv4 literal (its CLAT translates: 464XLAT)', V4_SERVER_COMPARE, True),
          ('v4srv', 'h6 (NAT64 lets flows out, none in)', 'h6', False),
          ('t1', 't2 over the configured tunnel', '6in4', True),
          ('t1', 'ds2 over IPv6 (a configured tunnel reaches its peer, not the Internet)', BASELINE, False),
          ('ce1', 'ce2 straight across the 6rd domain', '6rd', True),
          ('six1', 'ds2 over IPv6 (native: through the 6to4 relay)', BASELINE, True),
          ('is1', 'isr across the core (one ISATAP link over routed IPv4)', 'ISATAP', True),
          ('vc1', 'vc2 by its IPv4-compatible address', 'v4compat', True),
          ('vc1', 'ds2 over IPv6 (IPv4-compatible addresses reach only each other)', BASELINE, False),
          ('bc1', 'ds2 over IPv6 (through the tunnel the broker set up)', BASELINE, True))


def detour_name(detour):
    return f'RTT added by the detour through the {detour}'


def theory(params):
    native = arithmetic.tcp_mss(ip_header=IPV6)
    quantities = []
    for name, (mtu, header, steps) in MECHANISMS.items():
        mss = arithmetic.tcp_mss(mtu, header)
        ping_mtu, ping_header = PING_MTU.get(name, (mtu, header))
        quantities += [Quantity(f'MSS {name}', mss, 'B', absolute=0),
                       Quantity(f'largest unfragmented ping {name}', ping_mtu - ping_header - arithmetic.ICMP_HEADER,
                                'B', absolute=0)]
        if name != BASELINE:
            quantities.append(Quantity(f'goodput ratio {name} / {BASELINE}', mss / native, '', relative=0.02))
        if steps:
            quantities.append(Quantity(f'RTT added per direction {name}', steps * ENCAPSULATION_BOUND_MS, 'ms',
                                       bound='max'))
    relay_ms = params['relay_delay_ms']   # two links (IPv4 in, IPv6 out), each crossed once per direction
    tolerance, _ = rtt_tolerance([relay_ms, relay_ms])
    for detour in DETOURS:
        quantities.append(Quantity(detour_name(detour), 4 * relay_ms, 'ms',
                                   absolute=round(tolerance + 2 * ENCAPSULATION_BOUND_MS, 3)))
    quantities.append(Quantity(f'NAT64 sessions for {FLOWS} new flows', FLOWS, '', absolute=0))
    quantities += [Quantity(f'reachable: {source} -> {what}', float(expected), '', absolute=0)
                   for source, what, _, expected in MATRIX]
    return quantities


def _paths(net):
    """mechanism -> (client, server, server address) across the core."""
    tunnel_end = lambda node: str(net[node].tunnel_address.ip)   # noqa: E731
    return {'dual stack IPv4': (net['ds1'], net['ds2'], net['ds2'].IP()),
            BASELINE: (net['ds1'], net['ds2'], net['ds2'].params['ip6'].split('/')[0]),
            '6in4': (net['t1'], net['t2'], tunnel_end('t2')), '6rd': (net['ce1'], net['ce2'], tunnel_end('ce2')),
            '6to4': (net['six1'], net['six2'], tunnel_end('six2')),
            'ISATAP': (net['is1'], net['isr'], tunnel_end('isr')),
            'v4compat': (net['vc1'], net['vc2'], tunnel_end('vc2')),
            'NAT64': (net['h6'], net['v4srv'], str(synthesize(NAT64_PREFIX, V4_SERVER_COMPARE))),
            '464XLAT': (net['x6'], net['v4srv'], V4_SERVER_COMPARE)}


def largest_ping(node, address, low=1200, high=1500):
    """The largest ICMP echo payload that crosses unfragmented (binary search with DF set), or None."""
    family = '-6' if ':' in address else '-4'
    passes = lambda size: ' 1 received' in node.cmd(f'ping {family} -n -c 1 -W 1 -M do -s {size} {address}')  # noqa
    if not passes(low):
        return None
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if passes(middle) else (low, middle - 1)
    return low


def measure(net, params, repetition, log):
    paths = _paths(net)
    wire_sized_frames(*{node for client, server, _ in paths.values() for node in (client, server)},
                      *(net[name] for name in ('ra', 'rb', 'nat64', 'rly', 'tb', 'bc1')))
    result = {}
    median_rtt = lambda client, address: rtt_summary(  # noqa: E731
        ping_rtts(client, address, count=params['pings'], interval=0.01))['median']
    rtt = {name: median_rtt(client, address) for name, (client, _, address) in paths.items()}
    native = paths[BASELINE][2]
    for detour, node in DETOURS.items():
        rtt[f'via the {detour}'] = median_rtt(net[node], native)
        result[detour_name(detour)] = rtt[f'via the {detour}'] - rtt[BASELINE]
    best = best_goodputs(paths, seconds=params['seconds'], rounds=2, reports=True)
    for name, (value, report) in best.items():
        result[f'MSS {name}'] = report['start'].get('tcp_mss_default')
        result[f'goodput {name} Mb/s'] = value / 1e6
    for name, (_, _, steps) in MECHANISMS.items():
        client, _, address = paths[name]
        result[f'largest unfragmented ping {name}'] = largest_ping(client, address)
        if name != BASELINE:
            result[f'goodput ratio {name} / {BASELINE}'] = best[name][0] / best[BASELINE][0]
        if steps:
            result[f'RTT added per direction {name}'] = (rtt[name] - rtt[BASELINE]) / 2
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
    for name in MECHANISMS:
        rows.append(f'| {name} | {first[f"goodput {name} Mb/s"]:.2f} | {first[f"MSS {name}"]} | '
                    f'{first["RTT ms"][name]:.3f} |')
    rows += [f'| native IPv6 via the {detour} | | | {first["RTT ms"][f"via the {detour}"]:.3f} |' for detour in DETOURS]
    return rows + ['', 'Every path crosses the same shaped core link (ra == rb), so the frames on the wire are the '
                   'same size and the goodputs differ by the payload each frame carries: IPv4 1448 bytes, native '
                   'IPv6 1428, a tunnel (6in4, 6rd, 6to4, ISATAP, IPv4-compatible) 1408 (its 20-byte IPv4 header '
                   'shrinks the IPv6 MTU to 1480), NAT64 1428 on the core (the packet is IPv6 until the translator), '
                   'and 464XLAT 1428 too: its CLAT gives IPv4 an MTU of 1480, 20 bytes less than the IPv6 link, since '
                   'translation swaps the 20-byte IPv4 header for a 40-byte IPv6 one. Its largest ping is smaller, '
                   '1232 bytes: the IPv4 server sends echo replies without DF, the PLAT fragments their translation '
                   'at the IPv6 minimum MTU (1280), and the CLAT (Tayga) passes no fragmented ICMP back; TCP sets '
                   'DF and is not hit. Tunnels keep no state in the '
                   'network; the NAT64 keeps one session per flow (counted from its connection tracking), which is '
                   'what makes it the network\'s state, and its limit.', '',
                   'Reachability (1 reached, 0 not) as the RFCs predict: the IPv6-only host reaches the IPv4-only '
                   'server only through the translator\'s prefix, never by its IPv4 literal, unless a CLAT '
                   'translates it (464XLAT, x6); the server cannot open a flow toward it; a configured tunnel '
                   'reaches its peer and nothing else; IPv4-compatible addresses reach only each other (why they '
                   'were dropped); 6rd customers reach each other without the BR; ISATAP is one link over routed '
                   'IPv4. A 6to4 site reaches native IPv6 only through a relay, and a broker\'s client only through '
                   'its tunnel server: each sits behind two links of `relay_delay_ms` (IPv4 in, IPv6 out), crossed '
                   'once each way, so the round trip grows by four times that delay, whatever the direct path. '
                   '6over4 is not here: it needs one IPv4 multicast domain, which a routed core is not (`testbed run '
                   '6over4` shows it failing across a router).']


def plot(result, folder):
    first = result['raw']['repetitions'][0]
    bars = [(name, first[f'goodput {name} Mb/s'], 'C1' if name in TUNNELS else 'C0') for name in MECHANISMS]
    return hbars(folder, 'transition-goodput.png', bars, 'TCP goodput over the same core link (Mb/s)')


EXPERIMENT = Experiment(
    name='transition-techniques', title='IPv6 transition mechanisms side by side: what each costs',
    model='On a link of MTU 1500, TCP carries 1448 payload bytes per frame over IPv4 and 1428 over IPv6 (a 40-byte '
          'header). A tunnel (6in4, 6rd, 6to4, ISATAP, IPv4-compatible) puts a 20-byte IPv4 header in front, so the '
          'IPv6 MTU is 1480 and TCP carries 1408: a goodput ratio of 1408/1428 = 0.986 against native IPv6 on the '
          'same frames. NAT64 carries IPv6 up to the translator, so the core sees native IPv6 frames (ratio 1); '
          '464XLAT\'s IPv4 MTU of 1480 translates into full IPv6 frames (ratio 1). A tunnel adds no path here (each '
          'pair crosses the same core), only its processing, except toward native IPv6 from a 6to4 site or a '
          'broker\'s client: through the relay or the tunnel server, whose two links of delay d add 4d to the round '
          'trip. NAT64 keeps one session per flow.',
    topology=lambda params: TransitionCompareTopo(
        bw=params['bw'], delay=f'{params["delay_ms"]}ms' if params['delay_ms'] else None,
        relay_delay=f'{params["relay_delay_ms"]}ms' if params['relay_delay_ms'] else None),
    theory=theory, measure=measure, notes=notes, plot=plot,
    # 50 Mb/s: slow enough that no userspace encapsulator or translator is CPU-bound on 2 vCPUs (a CPU-bound path
    # would hide the 20 bytes), fast enough that they show
    params={'bw': 50, 'delay_ms': 0, 'relay_delay_ms': 5, 'seconds': 4, 'pings': 50}, repetitions=1,
    ranges={'bw': (1, 1000), 'delay_ms': (0, 100), 'relay_delay_ms': (0, 100), 'seconds': (1, 60),
            'pings': (1, 1000, 'whole')})
