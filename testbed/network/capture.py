"""Packet captures with tcpdump inside a node, decoded with scapy: what actually crossed the wire.

``capture(node, intf, bpf, action)`` runs tcpdump on one interface of a node while ``action()`` runs, and returns
the pcap's path. ``decode_6in4`` reads protocol-41 datagrams from it as plain dicts of outer IPv4 and inner IPv6
header fields: the form the 6to4 header comparison (kernel sit vs userspace encapsulator) and the report use.
"""
import os
import subprocess
import time

from testbed.system import daemon
from testbed.errors import TestbedError


def capture(node, intf, bpf, action, path, run=None, count=100):
    """Capture up to ``count`` packets matching ``bpf`` on ``intf`` of ``node`` while ``action()`` runs."""
    if os.path.exists(path):
        os.unlink(path)
    process = node.popen(['tcpdump', '--immediate-mode', '-U', '-Z', 'root', '-n', '-i', intf, '-c', str(count),
                          '-w', path, bpf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if run is not None:
        run.record_process(process.pid, f'tcpdump on {node.name}:{intf}')
    ready = daemon.readable([process.stderr.fileno()], 5)  # "listening on ..." once the filter is live
    line = process.stderr.readline().decode() if ready else ''
    if 'listening on' not in line:
        daemon.stop(process)
        raise TestbedError(f'tcpdump on {node.name}:{intf} did not start: {line.strip() or "no answer in 5 s"}')
    try:
        result = action()
    finally:
        time.sleep(0.2)  # let the last packets reach the file
        daemon.stop(process)
    return result


def decode_6in4(path):
    """[{outer and inner header fields}] for every protocol-41 datagram in a pcap."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether  # noqa: F401 - registers Ethernet as link type 1 for rdpcap
    from scapy.utils import rdpcap
    rows = []
    for packet in rdpcap(path):
        if IP not in packet or packet[IP].proto != 41 or IPv6 not in packet:
            continue
        outer, inner = packet[IP], packet[IPv6]
        rows.append({'version': outer.version, 'ihl': outer.ihl, 'tos': outer.tos, 'len': outer.len,
                     'id': outer.id, 'flags': str(outer.flags), 'frag': outer.frag, 'ttl': outer.ttl,
                     'proto': outer.proto, 'src': outer.src, 'dst': outer.dst,
                     'inner_version': inner.version, 'inner_tc': inner.tc, 'inner_fl': inner.fl,
                     'inner_plen': inner.plen, 'inner_nh': inner.nh, 'inner_hlim': inner.hlim,
                     'inner_src': inner.src, 'inner_dst': inner.dst,
                     'icmp6_type': bytes(inner.payload)[0] if inner.nh == 58 and len(inner.payload) else None,
                     'summary': packet.summary()})
    return rows
