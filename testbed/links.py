"""Links with bandwidth, delay, jitter, loss and queue size on either data-plane path.

``ShapedLink`` is a veth pair, like Mininet's Link; its shaping is applied by ``apply_shaping()`` once the
network is started, with the tc commands of ``testbed.linkparams.tc_commands``, and then read back: a link whose
qdiscs are not what was asked for is an error (Mininet's TCLink would carry on without delay).

``DelayLineLink`` is the userspace path for links that need delay, jitter or loss on a kernel without
sch_netem: each end is a veth pair into the testbed's delay namespace, where a ``testbed.delayline`` process
joins the two inner ends::

    node1 [intf1] ==veth== [dlNa] (delay line process) [dlNb] ==veth== [intf2] node2
                           \\______ delay namespace ______/
"""
import dataclasses
import json

from mininet.link import Intf, Link

from testbed import daemon
from testbed.errors import TestbedError
from testbed.linkparams import LinkParams, delay_line_direction, rate_change_command, tc_commands

DELAY_LINE_READY_TIMEOUT_S = 10.0


class ShapedLink(Link):
    """A veth link whose two egress directions are shaped with the same ``LinkParams``."""

    delay_path = 'kernel'  # where delay/jitter/loss happen for this link class

    def __init__(self, node1, node2, shaping=None, **kwargs):
        self.shaping = shaping or LinkParams()
        kwargs.setdefault('intf', Intf)
        super().__init__(node1, node2, **kwargs)

    def name(self):
        return f'{self.intf1.node.name}-{self.intf2.node.name}'

    def apply_shaping(self):
        """Install the qdiscs of both ends and check that the kernel holds what was asked for."""
        for intf in (self.intf1, self.intf2):
            cmds = tc_commands(intf.name, self.shaping, self.delay_path)
            if not cmds:
                continue
            intf.node.cmd(f'tc qdisc del dev {intf.name} root 2>/dev/null')
            for cmd in cmds:
                output = intf.node.cmd(cmd + ' 2>&1; echo "exit=$?"').strip().splitlines()
                if not output or output[-1] != 'exit=0':
                    raise TestbedError(f'link {self.name()}: "{cmd}" failed: {(output or ["?"])[0]}')
            self._verify(intf)

    def _verify(self, intf):
        shown = intf.node.cmd(f'tc qdisc show dev {intf.name}')
        wanted = []
        if self.shaping.bw:
            wanted.append('htb')
        if self.delay_path == 'kernel' and self.shaping.needs_delay:
            wanted.append('netem')
        missing = [kind for kind in wanted if f'qdisc {kind}' not in shown]
        if missing:
            raise TestbedError(f'link {self.name()}: {intf.name} lacks the {"/".join(missing)} qdisc after '
                               f'configuration; refusing to run with wrong links')

    def set_rate(self, bw):
        """Change the rate of both directions in place (``bw`` bits/s); queues and delay stay as they are."""
        if self.shaping.serialized:
            raise TestbedError(f'link {self.name()}: its rate cannot change in place while frames are serialised '
                               'at the old one (build the link with serialize=False)')
        for intf in (self.intf1, self.intf2):
            cmd = rate_change_command(intf.name, self.shaping, bw)
            output = intf.node.cmd(cmd + ' 2>&1; echo "exit=$?"').strip().splitlines()
            if not output or output[-1] != 'exit=0':
                raise TestbedError(f'link {self.name()}: "{cmd}" failed: {(output or ["?"])[0]}')
        self.shaping = dataclasses.replace(self.shaping, bw=float(bw))

    def cut(self):
        """Fail the link silently, both ways: every frame is lost, yet both ports stay up (a cut fibre that
        only a missing keepalive, such as LLDP, reveals)."""
        for intf in (self.intf1, self.intf2):
            intf.node.cmd(f'tc qdisc replace dev {intf.name} root netem loss 100%')

    def start_data_plane(self, net):
        """Nothing to start for a kernel link."""

    def stop_data_plane(self):
        """Nothing to stop for a kernel link; returns its counters (none)."""
        return None


class DelayLineLink(ShapedLink):
    """A link whose delay, jitter and loss come from a userspace delay line (no sch_netem needed)."""

    delay_path = 'userspace'

    def __init__(self, node1, node2, delay_node, index, **kwargs):
        self.delay_node = delay_node
        self.end_a, self.end_b = f'dl{index}a', f'dl{index}b'
        self.process = None
        self.stats_path = None
        super().__init__(node1, node2, **kwargs)

    def makeIntfPair(self, intfname1, intfname2, addr1=None, addr2=None, node1=None, node2=None,
                     deleteIntfs=True):  # Mininet's hook for how a link's interfaces are made
        del deleteIntfs
        pid = self.delay_node.pid
        for node, intf, addr, end in ((node1, intfname1, addr1, self.end_a), (node2, intfname2, addr2, self.end_b)):
            address = f' address {addr}' if addr else ''
            output = node.cmd(f'ip link add name {intf}{address} type veth peer name {end} netns {pid} 2>&1')
            if output.strip():
                raise TestbedError(f'link {node1.name}-{node2.name}: cannot create {intf}: {output.strip()}')
            self.delay_node.cmd(f'ip link set {end} up')

    def start_data_plane(self, net):
        """Start the delay line process and wait until its sockets are bound."""
        self.stats_path = net.run.path(f'delayline-{self.end_a[:-1]}.json')
        seed = net.seed * 1000 + int(self.end_a[2:-1])
        config = {
            'link': self.name(), 'a': self.end_a, 'b': self.end_b, 'stats': self.stats_path,
            'early_us': net.early_release_us,
            'a_to_b': delay_line_direction(self.shaping, seed),
            'b_to_a': delay_line_direction(self.shaping, seed + 500),
        }
        self.process = daemon.start(self.delay_node, 'testbed.delayline', config, net.run,
                                    f'delay line {self.name()}', DELAY_LINE_READY_TIMEOUT_S)

    def cut(self):
        """Fail the link silently: stop the delay line, so no frame crosses while both ports stay up."""
        self.stop_data_plane()

    def stop_data_plane(self):
        """Stop the delay line; return its counters."""
        if not self.process:
            return None
        daemon.stop(self.process)
        self.process = None
        try:
            with open(self.stats_path) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

