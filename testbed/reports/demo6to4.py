"""The paper's two 6to4 scenarios end to end, measured, as the first part of ``testbed demo``.

On the combined topology (two 6to4 sites, the relay, the native IPv6 network; core links 100 Mb/s, 1 ms):
name resolution through the DNS server, ping6 A->B (scenario 1), A->C and C->A (scenario 2), traceroute6 with the
tunnel as one hop, which routers and relay carried each flow (the tunnel counters), TCP goodput over 6to4 vs IPv4
on the same core path against the ratio the extra headers predict, MSS and path MTU, a protocol-41 capture decoded
with scapy, and the RFC 3964 counters after a spoofing attempt. ``run`` returns (markdown lines, data, checks).
"""
import ipaddress
import re
import shutil
import sys
import time

from testbed.measure import theory
from testbed.network.capture import capture, decode_6in4
from testbed.measure.probes import (BASELINE_SHARE, best_goodputs, held_back, ping_rtts, rtt_summary, traceroute_hops,
                                    wire_sized_frames)
from testbed.network.net import running
from testbed.system.probe import current_plan, probe
from testbed.sixtofour.addressing import TUNNEL_MTU
from topologies.sixtofour import SixToFourTopo


def ratio_core_rate():
    """(Mb/s, why) for the core links of a goodput-ratio comparison: fast enough that the extra 20 bytes show,
    slow enough that neither path is limited by the CPU (a CPU-bound path caps both alike and hides them)."""
    if probe().has('cpu_emulated'):
        return 10, ('an emulated CPU forwards wire-sized frames at 20-70 Mb/s, depending on the host (the VM '
                    'stage once reached only 17.3 of 19.1 Mb/s at 20)')
    if current_plan().datapath == 'userspace':
        return 50, ("ovs-vswitchd's one forwarding thread tops out near 93 Mb/s of full frames across three "
                    "userspace switches on 2 vCPUs (measured), which would cap both paths alike at 100 Mb/s")
    return 100, 'the kernel datapath forwards 100 Mb/s with room to spare'


def _names(net):
    """address -> node name, for paths in the report (switches answer traceroute from fd00:ff::<dpid>)."""
    names = {}
    for host in net.hosts:
        for attr in ('lan_address', 'tunnel_address'):
            if getattr(host, attr, None) is not None:
                names[str(getattr(host, attr))] = host.name
        if host.params.get('ip6'):
            names[str(ipaddress.ip_interface(host.params['ip6']).ip)] = host.name
        for address in getattr(host, 'addresses', []):
            names[str(address.ip)] = host.name
    for switch in net.switches:
        names[f'fd00:ff::{int(switch.dpid, 16):x}'] = switch.name
    return names


def _delivered(node):
    time.sleep(0.3)  # the userspace encapsulator writes its counters within 0.25 s of the last packet
    counters = node.counters()
    return counters.get('decap', {}).get('delivered', 0), counters.get('encap', {}).get('sent', 0)


def run(run_dir_copy, log=print):
    lines, data, checks = [], {}, []

    def check(name, ok, detail):
        checks.append({'check': name, 'ok': bool(ok), 'detail': detail})

    rate, why = ratio_core_rate()
    data['core_mbps'] = {'rate': rate, 'why': why}
    topo = SixToFourTopo(bw=rate)  # no delay: the goodput comparison needs the CPU for the tunnel, not delay lines
    with running(topo, controller='router', label='demo6to4') as net:
        a, b, c, r1, r2, relay = (net[name] for name in ('a', 'b', 'c', 'r1', 'r2', 'relay'))
        names = _names(net)
        data['paths'] = {'tunnel': net.plan.tunnel, 'datapath': net.plan.datapath, 'delay': net.plan.delay}
        log(f'demo: 6to4 network up (tunnel path {net.plan.tunnel}); resolving names')
        resolution = {}
        for src, name in (('a', 'b'), ('a', 'c'), ('c', 'a'), ('b', 'a')):
            answer = net[src].cmd(f'getent ahostsv6 {name}').split()
            resolution[f'{src} -> {name}'] = answer[0] if answer else None
        data['resolution'] = resolution
        check('names resolve (dnsmasq, AAAA)', all(resolution.values()), resolution)

        log('demo: ping6 A->B, B->A, A->C, C->A')
        rtts = {}
        for src, dst in (('a', 'b'), ('b', 'a'), ('a', 'c'), ('c', 'a')):
            samples = ping_rtts(net[src], dst, count=20, interval=0.05)
            rtts[f'{src} -> {dst}'] = {**rtt_summary(samples), 'sent': 20}
        data['ping6'] = rtts
        check('ping6 by name, both scenarios', all(r['count'] == 20 for r in rtts.values()),
              {k: f'{v["count"]}/20' for k, v in rtts.items()})

        log('demo: traceroute6 and the path each flow took')
        routes = {f'a -> {dst}': [names.get(hop, hop) for hop in traceroute_hops(a, dst, ipv6=True)]
                  for dst in ('b', 'c')}
        before = {n: _delivered(net[n]) for n in ('r1', 'r2', 'relay')}
        a.cmd('ping -6 -c 10 -i 0.02 -q c')
        after = {n: _delivered(net[n]) for n in ('r1', 'r2', 'relay')}
        data['traceroute6'] = routes
        data['tunnel_packets_during_a_to_c'] = {n: {'decapsulated': after[n][0] - before[n][0],
                                                    'encapsulated': after[n][1] - before[n][1]} for n in after}
        check('the tunnel is one hop (a -> b: r1, r2, b)', routes['a -> b'] == ['r1', 'r2', 'b'], routes['a -> b'])
        check('native IPv6 goes through the relay (a -> c)', routes['a -> c'][:2] == ['r1', 'relay'], routes['a -> c'])

        log('demo: path MTU, then TCP goodput, 6to4 (a -> b) vs IPv4 (r1 -> r2) on the same core path, best of two '
            'alternating 4 s runs each')
        b_address = b.params['ip6'].split('/')[0]
        wire_sized_frames(a, b, r1, r2)
        too_big = a.cmd(f'ping -6 -n -c 1 -W 2 -M do -s {theory.ETHERNET_MTU - 48} {b_address}')
        learned = re.findall(r'mtu (\d+)', a.cmd(f'ip -6 route get {b_address}'))
        data['path_mtu'] = {'learned': int(learned[0]) if learned else None,
                            'packet_too_big': ' '.join(re.findall(r'Packet too big[^\r\n]*', too_big)[:1])}
        check('path MTU a -> b is the tunnel MTU (Packet Too Big from r1)', data['path_mtu']['learned'] == TUNNEL_MTU,
              data['path_mtu'])
        baseline = theory.tcp_goodput(rate * 1e6)
        best = best_goodputs({'6to4': (a, b, b_address), 'ipv4': (r1, r2, str(r2.v4.ip))}, seconds=4, rounds=2,
                             reports=True, baseline=('ipv4', baseline))
        (sixtofour, report6), (ipv4, report4) = best['6to4'], best['ipv4']
        ratio_theory, mss6, mss4 = theory.sixtofour_goodput_ratio()
        ratio = sixtofour / ipv4
        data['goodput'] = {'sixtofour_bps': sixtofour, 'ipv4_bps': ipv4, 'ratio': ratio, 'ratio_theory': ratio_theory,
                           'mss_sixtofour': report6['start'].get('tcp_mss_default'),
                           'mss_ipv4': report4['start'].get('tcp_mss_default'), 'mss_theory': [mss6, mss4]}
        check(f'IPv4 baseline reaches {BASELINE_SHARE:.0%} of its theory (the machine did not hold it back)',
              not held_back(ipv4, baseline), f'{ipv4 / 1e6:.2f} vs {baseline / 1e6:.2f} Mb/s')
        check('goodput ratio 6to4/IPv4 within 2 % of theory', abs(ratio - ratio_theory) <= 0.02 * ratio_theory,
              f'{ratio:.4f} vs {ratio_theory:.4f}')

        log('demo: capturing protocol 41 on r1\'s IPv4 side')
        pcap = net.run.path('r1-wan.pcap')
        capture(r1, 'r1-eth0', 'ip proto 41',
                lambda: (a.cmd('ping -6 -c 1 -W 2 b'), a.cmd('ping -6 -c 1 -W 2 c')), pcap, net.run)
        rows = [row for row in decode_6in4(pcap) if row['inner_nh'] == 58]  # the echo requests and replies
        data['capture'] = rows
        shutil.copy(pcap, run_dir_copy)
        check('captured protocol-41 datagrams carry IPv6', bool(rows), f'{len(rows)} datagrams')

        log('demo: a spoofing attempt at r1 (RFC 3964)')
        time.sleep(0.6)
        before = r1.counters()
        for kind in ('spoofed', 'native', 'martian'):
            r2.cmd(f'{sys.executable} -m testbed.sixtofour.spoof {kind} 10 --source {r2.v4.ip} --target {r1.v4.ip} '
                   f'--victim {a.params["ip6"].split("/")[0]}')
        time.sleep(0.6)
        after = r1.counters()
        drops = {reason: after['decap'].get(f'drop_{reason}', 0) - before['decap'].get(f'drop_{reason}', 0)
                 for reason in ('spoofed', 'not_from_relay', 'martian')}
        data['rfc3964'] = {'sent': {'spoofed': 10, 'native': 10, 'martian': 10}, 'dropped': drops,
                           'counters': after}
        check('RFC 3964: every forged packet dropped and counted', list(drops.values()) == [10, 10, 10], drops)
        data['counters'] = {n: net[n].counters() for n in ('r1', 'r2', 'relay')}

    lines += _markdown(data, checks)
    return lines, data, checks


def _markdown(data, checks):
    paths = data['paths']
    g = data['goodput']
    lines = ['## Part 1: 6to4 (RFC 3056) and the relay (RFC 3068), the paper\'s two scenarios', '',
             f'Data-plane paths: 6to4 tunnel **{paths["tunnel"]}**, switches **{paths["datapath"]}**, link delay '
             f'**{paths["delay"]}**. Core links {data["core_mbps"]["rate"]} Mb/s (HTB: {data["core_mbps"]["why"]}), no '
             'added delay. The relay uses the anycast '
             '192.88.99.1, which RFC 7526 (2015) deprecated: relays were often far, broken or unaccountable. It is '
             'built here because the paper teaches it.', '',
             '| name lookup (getent, DNS AAAA) | answer |', '|---|---|']
    lines += [f'| {k} | {v} |' for k, v in data['resolution'].items()]
    lines += ['', '| ping6 (20 × 56 B) | received | median RTT | min |', '|---|---|---|---|']
    lines += [f'| {k} | {v["count"]}/20 | {v.get("median", 0):.2f} ms | {v.get("min", 0):.2f} ms |'
              for k, v in data['ping6'].items()]
    lines += ['', '| traceroute6 | hops |', '|---|---|']
    lines += [f'| {k} | {" → ".join(v)} |' for k, v in data['traceroute6'].items()]
    lines += ['', 'The IPv4 core switches do not appear in a → b: the 6to4 tunnel is one IPv6 hop. In a → c the '
              'packet leaves the tunnel at the relay and crosses the native core (switches x1, x2) and the pure '
              'IPv6 router v6r.', '', '| during 10 pings a → c | decapsulated | encapsulated |', '|---|---|---|']
    lines += [f'| {k} | {v["decapsulated"]} | {v["encapsulated"]} |'
              for k, v in data['tunnel_packets_during_a_to_c'].items()]
    lines += ['', '| TCP (iperf3, 8 s) | goodput | MSS |', '|---|---|---|',
              f'| 6to4 a → b (IPv6 in IPv4) | {g["sixtofour_bps"] / 1e6:.2f} Mb/s | {g["mss_sixtofour"]} '
              f'(theory {g["mss_theory"][0]}) |',
              f'| IPv4 r1 → r2, same core path | {g["ipv4_bps"] / 1e6:.2f} Mb/s | {g["mss_ipv4"]} '
              f'(theory {g["mss_theory"][1]}) |',
              f'| ratio | **{g["ratio"]:.4f}** (theory {g["ratio_theory"]:.4f}: the tunnel\'s 20-byte IPv4 header '
              f'and the 40-byte IPv6 header leave {g["mss_theory"][0]} of {g["mss_theory"][1]} payload bytes per '
              'frame) | |', '',
              f'Path MTU a → b, learned from r1\'s ICMPv6 Packet Too Big: **{data["path_mtu"]["learned"]}** '
              f'bytes (1500 − 20; "{data["path_mtu"]["packet_too_big"]}").', '',
              '| protocol-41 datagram on r1\'s IPv4 side | outer src → dst | TTL | DF | inner src → dst '
              '| hop limit |',
              '|---|---|---|---|---|---|']
    lines += [f'| {row["summary"][:60]} | {row["src"]} → {row["dst"]} | {row["ttl"]} | {row["flags"]} | '
              f'{row["inner_src"]} → {row["inner_dst"]} | {row["inner_hlim"]} |' for row in data['capture'][:4]]
    r = data['rfc3964']
    lines += ['', '| RFC 3964 at r1: 10 forged datagrams each | dropped and counted as |', '|---|---|',
              f'| inner 6to4 source not embedding the outer source | spoofed: {r["dropped"]["spoofed"]} |',
              f'| native inner source, not from the relay | not_from_relay: {r["dropped"]["not_from_relay"]} |',
              f'| 6to4 address embedding 192.168.1.1 | martian: {r["dropped"]["martian"]} |', '',
              '| check | result | detail |', '|---|---|---|']
    lines += [f'| {c["check"]} | {"ok" if c["ok"] else "FAILED"} | {c["detail"]} |' for c in checks]
    return lines


def plots(data, folder):
    """rtt.png and goodput.png in ``folder`` (matplotlib, no display)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figure, axis = plt.subplots(figsize=(6, 3.2))
    pairs = list(data['ping6'])
    axis.bar(pairs, [data['ping6'][p].get('median', 0) for p in pairs], color=['C0', 'C0', 'C1', 'C1'])
    axis.set_ylabel('median RTT (ms)')
    axis.set_title('ping6: scenario 1 (a↔b) and scenario 2 via the relay (a↔c)')
    figure.tight_layout()
    figure.savefig(f'{folder}/rtt.png', dpi=110)
    plt.close(figure)
    g = data['goodput']
    figure, axis = plt.subplots(figsize=(6, 3.2))
    axis.bar(['IPv4 r1→r2', '6to4 a→b'], [g['ipv4_bps'] / 1e6, g['sixtofour_bps'] / 1e6], color=['C2', 'C0'])
    axis.axhline(g['ipv4_bps'] / 1e6 * g['ratio_theory'], color='k', linestyle='--', label='IPv4 × 1408/1448')
    axis.set_ylabel('TCP goodput (Mb/s)')
    axis.legend(loc='lower right')
    axis.set_title('6to4 overhead on a 100 Mb/s path')
    figure.tight_layout()
    figure.savefig(f'{folder}/goodput.png', dpi=110)
    plt.close(figure)
