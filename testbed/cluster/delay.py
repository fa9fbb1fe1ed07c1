"""Delay, jitter and loss on the links of a cluster run, on servers without sch_netem.

A link with delay, jitter or loss whose servers both have netem gets netem at each end's egress, as on one machine.
Otherwise one server's delay line carries both directions (``testbed.cluster.plan.delay_site`` says which): on that
server a delay namespace (``ServerDelayLines.node``) holds the line's two ends, each joined to a node's interface by
a veth, or, for a node on the other server, by the tunnel's tap itself::

    server A: node1 [intf1] ==veth== [dlNa] (delay line) [dlNb = tap] ==ssh tunnel== [intf2] node2 :server B

So a frame crosses one delay line whichever servers its nodes are on, and the tunnel neither doubles nor drops the
delay. The lines run as on one machine (``testbed.link.lines``): started by the server's agent, one process per CPU
of that server, before the switches start.
"""
from typing import List

from testbed.cluster.nodes import remote_class
from testbed.link.params import LinkParams, direction_seeds, line_spec
from testbed.network.net import DELAY_NODE_NAME, DelayNamespace
from testbed.system.interrupts import deferred_signals


class ServerDelayLines:
    """The delay namespace on ``server`` and the delay lines of the links it carries (``net``: a ``ClusterNet``)."""

    def __init__(self, net, server: str, user: str):
        self.net, self.server = net, server
        self.specs: List[dict] = []
        with deferred_signals():
            self.node = remote_class(DelayNamespace)(DELAY_NODE_NAME, server=server, user=user, run=net.run,
                                                     inNamespace=True)
            net.record_node(self.node, f'delay namespace on {server}')
        # No IPv6 link-local chatter (RS, MLD, DAD) may leak from the inner ends into the links.
        self.node.cmd('sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1')
        self.node.cmd('ip link set lo up')

    def add(self, index: int, shaping: LinkParams, seed: int) -> tuple:
        """A link's two ends in the delay namespace (``a`` faces its first node), its delay line planned."""
        key = f'dl{index}'
        ends = (f'{key}a', f'{key}b')
        self.specs.append(line_spec(key, ends, shaping, shaping, direction_seeds(seed, index)))
        return ends

    def start(self) -> None:
        """Start the lines (by the server's agent, one process per CPU there) and wait until they are ready."""
        if not self.specs:
            return
        self.net.on_server(self.node, delaylines=self.specs, into=self.node.pid)

    def stop(self) -> None:
        """End the namespace's shell (its delay lines are the agent's, or this run's, records: they are swept)."""
        self.node.terminate()
