"""Small general-purpose topologies: a single link, a star, a chain, a dumbbell and a fan-in.

Every link takes the shaping parameters of ``testbed.link.params`` (``bw``, ``delay``, ``jitter``, ``loss``,
``max_queue_size``), given as topology parameters: ``testbed run linear --param n=4 --param delay=5ms``.
"""
from testbed.network.topo import TestbedTopo, check_count, shaping_options

MAX_FLAT_HOSTS = 65534     # hosts one flat network numbers: 10.0.0.1 .. 10.0.255.254 in a /16


def flat_host_ip(index: int, hosts: int) -> str:
    """Host ``index`` (from 1) of a flat network of ``hosts``: 10.0.0.index/24 up to 254 hosts, a /16 above."""
    return f'10.0.{index >> 8}.{index & 255}/{24 if hosts < 255 else 16}'


class PairTopo(TestbedTopo):
    """Two hosts joined by one shaped link (no switch): the unit of link fidelity tests.

        h1 ----(bw, delay, loss)---- h2
    """

    def build(self, bw=None, delay=None, jitter=None, loss=None, max_queue_size=None):
        self.addHost('h1', ip='10.0.0.1/24')
        self.addHost('h2', ip='10.0.0.2/24')
        self.addLink('h1', 'h2', **shaping_options(locals()))


class SingleSwitchTopo(TestbedTopo):
    """N hosts on one switch; every host link shaped alike.

        h1   h2 ... hN
          \\  |     /
             s1
    """

    def build(self, n=3, bw=None, delay=None, jitter=None, loss=None, max_queue_size=None):
        check_count('n', n, 1, MAX_FLAT_HOSTS)
        shaping = shaping_options(locals())
        self.addSwitch('s1')
        for i in range(1, n + 1):
            self.addHost(f'h{i}', ip=flat_host_ip(i, n))
            self.addLink(f'h{i}', 's1', **shaping)


class LinearTopo(TestbedTopo):
    """A chain of N switches with one host each; the switch-to-switch links are shaped.

        h1    h2    h3         hN
        |     |     |          |
        s1 -- s2 -- s3 -- ... sN
    """

    def build(self, n=3, bw=None, delay=None, jitter=None, loss=None, max_queue_size=None):
        check_count('n', n, 1, MAX_FLAT_HOSTS)
        shaping = shaping_options(locals())
        for i in range(1, n + 1):
            self.addSwitch(f's{i}')
            self.addHost(f'h{i}', ip=flat_host_ip(i, n))
            self.addLink(f'h{i}', f's{i}')
            if i > 1:
                self.addLink(f's{i - 1}', f's{i}', **shaping)


class DumbbellTopo(TestbedTopo):
    """N senders and N receivers sharing one bottleneck link between two switches.

        h1 --\\                      /-- h(N+1)
        h2 ---- s1 ==bottleneck== s2 ---- h(N+2)
        hN --/                      \\-- h(2N)
    """

    def build(self, n=2, bw=10, delay='10ms', jitter=None, loss=None, max_queue_size=None):
        check_count('n', n, 1, MAX_FLAT_HOSTS // 2)
        self.addSwitch('s1')
        self.addSwitch('s2')
        self.addLink('s1', 's2', **shaping_options(locals()))
        for i in range(1, 2 * n + 1):
            self.addHost(f'h{i}', ip=flat_host_ip(i, 2 * n))
            self.addLink(f'h{i}', 's1' if i <= n else 's2')


class FanInTopo(TestbedTopo):
    """N sources sharing one shaped link to a sink: statistical multiplexing.

        h1 --\
        h2 ---- s1 ==(bw, queue)== s2 -- sink
        hN --/

    Only the s1-s2 link is shaped; ``burst`` (bytes) sets its token bucket (1514: one frame, no bursts).
    """

    def build(self, n=4, bw=10, delay=None, jitter=None, loss=None, max_queue_size=None, burst=None):
        check_count('n', n, 1, 64)
        self.addSwitch('s1')
        self.addSwitch('s2')
        self.addLink('s1', 's2', port1=100, port2=100, **shaping_options(locals()))
        self.addHost('sink', ip='10.0.1.1/16')
        self.addLink('sink', 's2')
        for i in range(1, n + 1):
            self.addHost(f'h{i}', ip=f'10.0.0.{i}/16')
            self.addLink(f'h{i}', 's1')


topos = {
    'pair': PairTopo,
    'single': SingleSwitchTopo,
    'linear': LinearTopo,
    'dumbbell': DumbbellTopo,
    'fanin': FanInTopo,
}
