"""Routed topologies for the control plane: OpenFlow switches act as routers with computed forwarding tables.

Every host sits in its own subnet behind a switch port and sends off-subnet traffic to a gateway address the
controller answers (ARP / neighbour discovery). Run them with the router app: ``testbed run star --controller``.

``star`` — the lecture's forwarding-table slide: one switch, destinations on links #2..#5, a source on link #1::

            UCB (link #2)
              |
    src --#1-- s1 --#3-- NYU
              |  \\
     MIT (#4)      UW (#5)

``ring`` — N switches in a ring, one host each (failover: cut a link, traffic goes the other way round).
``mesh`` — a small mesh of 4 switches with a diagonal (several equal-cost and unequal paths).
``chain`` — a routed line of N switches (traceroute shows one hop per switch; scale with large N).
``bottleneck`` — two switches, one shaped link, two hosts each side (circuits against best effort); with
``backup=true`` an unshaped detour through s3 that only best effort can use.
``grid`` — rows x cols switches with a host each (scale: ``testbed bench control`` uses 10 x 10, ``testbed bench
scale`` 22 x 23 with ``ipv6=false`` and ``--aggregate``).
"""
from testbed.network.nodes import RoutedHost
from testbed.network.topo import TestbedTopo, check_count, shaping_options

STAR_DESTINATIONS = (('UCB', 2), ('NYU', 3), ('MIT', 4), ('UW', 5))


MAX_ROUTED_HOSTS = 65279   # one /24 each: 10.0.1.0/24 .. 10.254.255.0/24 (10.255/16 is the switches' own)


def routed_host(topo, name, index, ipv6=True):
    """Host number ``index`` (1..MAX_ROUTED_HOSTS) in its own subnet, 10.<index // 256>.<index % 256>.0/24
    (10.0.<index>.0/24 up to 255) and, with ``ipv6``, 2001:db8:<index>::/64; gateway .1 / ::1 on its switch."""
    subnet = f'10.{index >> 8}.{index & 255}'
    six = {'ip6': f'2001:db8:{index:x}::10/64', 'gateway6': f'2001:db8:{index:x}::1'} if ipv6 else {}
    return topo.addHost(name, cls=RoutedHost, ip=f'{subnet}.10/24', defaultRoute=f'via {subnet}.1', **six)


class StarTopo(TestbedTopo):
    """The lecture's forwarding-table star: MIT on link #4, UW #5, UCB #2, NYU #3 (a source on #1)."""

    def build(self):
        self.addSwitch('s1')
        routed_host(self, 'src', 1)
        self.addLink('src', 's1', port2=1)
        for name, port in STAR_DESTINATIONS:
            routed_host(self, name, port)
            self.addLink(name, 's1', port2=port)


class RingTopo(TestbedTopo):
    """N switches in a ring, host hK on switch sK (port 1); ring links use ports 2 (clockwise) and 3."""

    def build(self, n=6, bw=None, delay=None, jitter=None, loss=None, max_queue_size=None):
        check_count('n', n, 3, MAX_ROUTED_HOSTS)
        shaping = shaping_options(locals())
        for i in range(1, n + 1):
            self.addSwitch(f's{i}')
            routed_host(self, f'h{i}', i)
            self.addLink(f'h{i}', f's{i}', port2=1)
        for i in range(1, n + 1):
            self.addLink(f's{i}', f's{i % n + 1}', port1=2, port2=3, **shaping)


class MeshTopo(TestbedTopo):
    """Four switches in a square with one diagonal (s1-s3), one host each."""

    def build(self, bw=None, delay=None, jitter=None, loss=None, max_queue_size=None):
        shaping = shaping_options(locals())
        for i in range(1, 5):
            self.addSwitch(f's{i}')
            routed_host(self, f'h{i}', i)
            self.addLink(f'h{i}', f's{i}', port2=1)
        for a, b in (('s1', 's2'), ('s2', 's3'), ('s3', 's4'), ('s4', 's1'), ('s1', 's3')):
            self.addLink(a, b, **shaping)


class ChainTopo(TestbedTopo):
    """A routed line of N switches, a host at each end (h1 on s1, h2 on sN)."""

    def build(self, n=3, bw=None, delay=None, jitter=None, loss=None, max_queue_size=None):
        check_count('n', n, 1, 250)
        shaping = shaping_options(locals())
        for i in range(1, n + 1):
            self.addSwitch(f's{i}')
            if i > 1:
                self.addLink(f's{i - 1}', f's{i}', **shaping)
        routed_host(self, 'h1', 1)
        routed_host(self, 'h2', 2)
        self.addLink('h1', 's1')
        self.addLink('h2', f's{n}')


class GridTopo(TestbedTopo):
    """A rows x cols grid of switches, a host on every switch (for scale: 10 x 10 is 100 switches, 180 links);
    ``ipv6=False`` gives the hosts IPv4 only (half the routes: a large grid's tables).

        s1 -- s2 -- s3
        |     |     |
        s4 -- s5 -- s6      (each sK also has host hK on port 1)
    """

    def build(self, rows=3, cols=3, bw=None, delay=None, jitter=None, loss=None, max_queue_size=None, ipv6=True):
        check_count('rows', rows, 1)
        check_count('cols', cols, 1)
        if rows * cols > MAX_ROUTED_HOSTS:
            raise ValueError(f'rows x cols = {rows * cols} exceeds {MAX_ROUTED_HOSTS} (one /24 per host)')
        shaping = shaping_options(locals())
        for index in range(1, rows * cols + 1):
            self.addSwitch(f's{index}')
            routed_host(self, f'h{index}', index, ipv6)
            self.addLink(f'h{index}', f's{index}', port2=1)
        for index in range(1, rows * cols + 1):
            if index % cols:
                self.addLink(f's{index}', f's{index + 1}', **shaping)
            if index + cols <= rows * cols:
                self.addLink(f's{index}', f's{index + cols}', **shaping)


class BottleneckTopo(TestbedTopo):
    r"""Two switches joined by one shaped link, two hosts on each side: circuits vs best effort.

        h1 --\                          /-- h3
              s1 ==== bw, delay ==== s2
        h2 --/    \                /    \-- h4
                   `---- s3 -----'          (backup=True: an unshaped detour, port 11 on s1 and s2)

    The detour has no bandwidth, so it carries no reservation: only best effort reroutes over it when the
    shaped link fails (circuits that crossed it are torn down).
    """

    def build(self, bw=10, delay=None, jitter=None, loss=None, max_queue_size=None, backup=False):
        shaping = shaping_options(locals())
        self.addSwitch('s1')
        self.addSwitch('s2')
        self.addLink('s1', 's2', port1=10, port2=10, **shaping)
        for index, switch in ((1, 's1'), (2, 's1'), (3, 's2'), (4, 's2')):
            routed_host(self, f'h{index}', index)
            self.addLink(f'h{index}', switch)
        if backup:
            self.addSwitch('s3')
            self.addLink('s1', 's3', port1=11, port2=1)
            self.addLink('s3', 's2', port1=2, port2=11)


topos = {'star': StarTopo, 'ring': RingTopo, 'mesh': MeshTopo, 'chain': ChainTopo, 'grid': GridTopo,
         'bottleneck': BottleneckTopo}
