"""The links of a network across servers: a veth pair on one server, an ssh Ethernet tunnel between two, and a
delay line on a server where a link's delay needs one (``testbed.cluster.delay``).

Upstream's ``RemoteSSHLink`` with the testbed's fixes: a tap number free on both servers for each tunnel (upstream
made every tunnel ``tap9``), what a server's root namespace gets created and recorded there in one step (by the
``ClusterNet`` passed as ``net``), the tunnel's ssh recorded in the client's run, and the wait for the tunnel robust
to what ssh and sudo print first.
"""
import os
import random
import select
import time
from typing import Optional

from mininet.examples import cluster as upstream
from mininet.link import Intf

from testbed.cluster.remote import ssh_options
from testbed.errors import TestbedError
from testbed.link.params import SHAPING_KEYS, LinkParams
from testbed.system.interrupts import deferred_signals

TAP_RANGE = (1000, 60000)   # ssh -w numbers: the tunnels' taps are tap<N>, drawn here and checked free on both ends
TUNNEL_TIMEOUT_S = 30.0     # from starting a tunnel's ssh to its "@"
# What a frame wakes after a delayed link across servers, each way: the tunnel's ssh client and sshd, then the next
# switch (userspace on the fake servers); testbed.measure.fidelity allows each its measured wake-up latency.
TUNNEL_IDLE_PROCESSES = 3


class ClusterIntf(Intf):
    """An interface of a cluster link: Mininet's, whose ``config`` refuses the shaping parameters (a cluster link's
    shaping is set when it is built; Mininet's plain ``Intf.config`` would ignore them without a word)."""

    def config(self, **params):  # Mininet's API name
        shaping = sorted(key for key in SHAPING_KEYS if params.get(key) is not None)
        if shaping:
            raise TestbedError(f'{self.name}: {", ".join(shaping)} cannot change while a cluster run runs (give the '
                               'link its shaping when you build it)')
        return super().config(**params)


class ClusterLink(upstream.RemoteSSHLink):
    """A link: a veth pair on one server, an ssh Ethernet tunnel between two (taps numbered per link), and, for delay
    on a server without netem, a delay line between its two ends (``lines``, a ``ServerDelayLines``: see
    ``testbed.cluster.delay``). What it makes in a server's root namespace (a tap, a veth between two switches)
    ``net`` creates and records there at once; the tunnel's ssh is recorded in ``net``'s run, so that ending it
    ends the tunnel on the servers too."""

    def __init__(self, node1, node2, net=None, shaping=None, lines=None, line_index=0, **kwargs):
        self.net = net
        self.shaping = shaping or LinkParams()
        self.lines, self.line_index = lines, line_index
        if kwargs.get('intf') in (None, Intf):  # Mininet.addLink passes its default Intf
            kwargs['intf'] = ClusterIntf
        super().__init__(node1, node2, **kwargs)

    def makeIntfPair(self, intfname1, intfname2, addr1=None, addr2=None, node1=None, node2=None,
                     deleteIntfs=True):  # Mininet's API name
        node1 = self.node1 if node1 is None else node1
        node2 = self.node2 if node2 is None else node2
        if self.lines is not None:
            return self._through_delay_line(node1, node2, intfname1, intfname2, addr1, addr2)
        if (self.net is not None and node1.server == node2.server and not node1.inNamespace
                and not node2.inNamespace):
            return self.net.on_server(node1, veth=[intfname1, intfname2], macs=[addr1, addr2], into=[None, None])
        return super().makeIntfPair(intfname1, intfname2, addr1, addr2, node1, node2, deleteIntfs)

    def _through_delay_line(self, node1, node2, intfname1, intfname2, addr1, addr2):
        """Each node's interface joined to the delay line's end that faces it: by a veth on the delay line's server,
        by the tunnel (its tap is that end) from the other server."""
        delay = self.lines.node
        ends = self.lines.add(self.line_index, self.shaping, self.net.seed)
        self.tunnel = None
        for node, intf, addr, end in ((node1, intfname1, addr1, ends[0]), (node2, intfname2, addr2, ends[1])):
            if node.server == delay.server:
                self.net.on_server(node, veth=[intf, end], macs=[addr, None],
                                   into=[node.pid if node.inNamespace else None, delay.pid])
            else:
                self.tunnel, tap = self._open_tunnel(delay, node, f'{intfname1}-{intfname2}')
                self._attach(delay, tap, end, None)
                self._attach(node, tap, intf, addr)
        return self.tunnel

    def makeTunnel(self, node1, node2, intfname1, intfname2, addr1=None, addr2=None):  # Mininet's API name
        tunnel, tap = self._open_tunnel(node1, node2, f'{intfname1}-{intfname2}')
        for node, intf, addr in ((node1, intfname1, addr1), (node2, intfname2, addr2)):
            self._attach(node, tap, intf, addr)
        return tunnel

    def _open_tunnel(self, near, far, what: str):
        """An ssh Ethernet tunnel between a tap on ``near``'s server and one on ``far``'s (both tap<N>, the same N
        free on both); (its ssh process, the taps' name)."""
        if far.server == 'localhost':  # the tunnel's ssh runs from the near server toward the far one
            near, far = far, near
        number = _free_tap(near, far)
        tap = f'tap{number}'
        for node in (near, far):
            self.net.on_server(node, tap=tap, user=node.user)
        options = ssh_options() if not near.isRemote else ['-o', 'BatchMode=yes']
        self.cmd = ['ssh', *options, '-n', '-o', 'Tunnel=Ethernet', '-w', f'{number}:{number}',
                    f'{far.user}@{far.serverIP}', 'echo @']
        with deferred_signals():
            tunnel = near.rpopen(self.cmd, sudo=False)
            self.net.run.record_process(tunnel.pid, f'ssh tunnel {near.server} -> {far.server}')
        said = _wait_for_tunnel(tunnel)
        if said is not None:
            raise TestbedError(f'link {what}: the ssh tunnel from {near.server} to {far.server} did not come up: '
                               f'{said or "no output"} (sshd needs PermitTunnel yes)')
        return tunnel, tap

    @staticmethod
    def moveIntf(intf, node):  # Mininet's API name
        """Move a server's root-namespace interface into ``node``'s namespace. Upstream takes any output of the
        command as its failure, so sudo's warning "unable to resolve host" (a server whose name is not in
        /etc/hosts, as in the VM stage) failed every tunnel to a host; here the node is asked whether it has it."""
        said = node.rcmd(f'ip link set {intf} netns {node.pid}')
        if 'does not exist' in node.cmd(f'ip link show {intf}'):
            raise TestbedError(f'{node.server}: cannot move {intf} into {node.name}: '
                               f'{" ".join(said.split())[:200] or "no answer"}')
        return True

    def _attach(self, node, tap: str, intf: str, addr) -> None:
        """A tunnel's tap becomes ``node``'s interface ``intf``."""
        if node.inNamespace:   # a host's (or the delay namespace's): it ends with that namespace
            self.moveIntf(tap, node)
            node.cmd(f'ip link set {tap} name {intf}' + (f' address {addr}' if addr else ''))
        else:                  # a switch's port, in the server's root namespace: recorded under its new name
            self.net.on_server(node, rename=[tap, intf], mac=addr)

    def describe(self) -> str:
        """How the link is carried, in words."""
        a, b = (getattr(node, 'server', 'localhost') for node in (self.node1, self.node2))
        carried = f'ssh tunnel {a} -> {b}' if self.tunnel else f'veth on {a}'
        if self.lines is not None:
            carried += f', delay line on {self.lines.server}'
        elif self.shaping.needs_delay:
            carried += ', netem at each end'
        return carried


def cluster_shaping(options: dict, where: str) -> LinkParams:
    """A cluster link's shaping, checked as on one machine (``LinkParams``)."""
    return LinkParams.from_options({key: value for key, value in options.items() if value is not None}, where)


def _wait_for_tunnel(tunnel) -> Optional[str]:
    """Wait until the tunnel's ssh prints its line ``@`` (it ran ``echo @`` once the tunnel was up): None then, else
    what it said instead, once it ended or TUNNEL_TIMEOUT_S passed (it is killed). Upstream reads one character and
    takes anything else as the start of an error, then reads the rest until the end, which never comes while the
    tunnel is up: sudo's warning "unable to resolve host" (a machine whose name is not in /etc/hosts, as in the VM
    stage) came first and the cluster run hung."""
    said, deadline = '', time.monotonic() + TUNNEL_TIMEOUT_S
    descriptor = tunnel.stdout.fileno()
    while not any(line.strip() == '@' for line in said.splitlines()):
        left = deadline - time.monotonic()
        chunk = os.read(descriptor, 4096) if left > 0 and select.select([descriptor], [], [], left)[0] else b''
        if not chunk:
            tunnel.kill()
            tunnel.wait()
            return ' '.join(said.split())[:300]
        said += chunk.decode(errors='replace')
    return None


def _free_tap(node1, node2) -> int:
    """A tap number free on both servers (drawn at random, then checked)."""
    for _ in range(20):
        number = random.randrange(*TAP_RANGE)
        if all('does not exist' in node.rcmd(f'ip link show tap{number}') for node in (node1, node2)):
            return number
    raise TestbedError(f'no free tap number on {node1.server} and {node2.server} after 20 draws')
