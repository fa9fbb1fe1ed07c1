"""Topologies from the CS168 lecture "How the Internet Works: a bottom-up view".

``lecture-links``: the lecture's two links side by side (slide "packet delay"): Link-1 is wide and long
(10 Mb/s, 10 ms), Link-2 narrow and short (1 Mb/s, 1 ms)::

    h1 ----- Link-1: 10 Mb/s, 10 ms ----- h2
    h3 ----- Link-2:  1 Mb/s,  1 ms ----- h4
"""
from testbed.network.topo import TestbedTopo

LINK_1 = {'bw': 10, 'delay': '10ms'}
LINK_2 = {'bw': 1, 'delay': '1ms'}


class LectureLinksTopo(TestbedTopo):
    """The lecture's Link-1 (10 Mb/s, 10 ms) and Link-2 (1 Mb/s, 1 ms), each joining two hosts."""

    def build(self, burst=None, reference=False):
        """``burst`` (bytes) sets both links' token bucket; 1514 (one frame) for per-packet delay experiments.
        ``reference`` adds h5 - h6 on an unshaped link: what the measuring tools and the stack cost by themselves."""
        if reference:
            self.addHost('h5', ip='10.0.3.1/24')
            self.addHost('h6', ip='10.0.3.2/24')
            self.addLink('h5', 'h6')
        for index, (left, right, shaping) in enumerate((('h1', 'h2', LINK_1), ('h3', 'h4', LINK_2)), start=1):
            self.addHost(left, ip=f'10.0.{index}.1/24')
            self.addHost(right, ip=f'10.0.{index}.2/24')
            self.addLink(left, right, **shaping, **({'burst': burst} if burst else {}))


topos = {'lecture-links': LectureLinksTopo}
