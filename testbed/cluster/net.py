"""A network across servers: Mininet's cluster edition (``mininet.examples.cluster``) with the testbed's rules.

What the testbed adds to the cluster edition, in its own subclasses (the installed Mininet is not patched):

- ssh as the testbed runs it (``testbed.cluster.remote``: batch mode, ``TESTBED_SSH_CONFIG``);
- records on every server: an agent per server (``testbed.cluster.agent``) records each node's shell and pinned
  namespace and each bridge (tagged with the agent's run) there, before the client goes on, and removes them at
  stop, or by itself when the client dies and its ssh connection drops. What lies in a server's root namespace
  (a tunnel's tap, a veth between two switches, a switch's port) the agent creates and records in one step, so a
  client killed in between leaves nothing unrecorded. The agents' ssh clients, the tunnels' ssh and any local
  nodes are recorded in the client's own run. Upstream's cleanup is ``mn -c`` on every server, which deletes every
  bridge there and is never called;
- cross-server links over ssh Ethernet tunnels on a tap pair numbered per link, free on both servers (upstream
  creates every tunnel as ``tap9``: a second tunnel being set up at the same time, or a ``tap9`` that already
  exists on a server, breaks it; that ``tap9`` would then be renamed away from its owner);
- a failed precheck raises one clear error instead of ``sys.exit(1)``;
- the testbed's router app (``controller='router'``) on this machine, listening on its address toward the servers;
- the probe on every server (its agent runs it): each server's switches take the datapath its own kernel offers;
- switches that speak OpenFlow 1.3.

Links take ``bw`` and ``max_queue_size`` as on one machine (HTB at each end's egress, on the link's own interfaces,
so a tunnel between servers neither doubles nor drops the shaping). ``delay``, ``jitter`` and ``loss`` need netem or
a delay line on the servers, which a cluster run does not set up yet: such a topology is refused in one line.
"""
import functools
import random
import subprocess
from typing import Dict, List, Optional

from mininet.examples import cluster as upstream
from mininet.net import Mininet
from mininet.node import OVSSwitch

from testbed.cluster.agent import create_tap, create_veth, rename_link
from testbed.cluster.remote import Agent, run_on, ssh_options
from testbed.control.ryu import ROUTER_APP, RyuController
from testbed.errors import TestbedError
from testbed.link.params import SHAPING_KEYS, LinkParams
from testbed.link.shaped import install_qdiscs
from testbed.network.net import checksums_in_software, write_controller_plan
from testbed.system.interrupts import deferred_signals
from testbed.system.probe import FEATURES, current_plan
from testbed.system.runstate import RUN_TAG, Run, stop_after_failure

PLACEMENTS = {'switchbin': upstream.SwitchBinPlacer, 'hostswitchbin': upstream.HostSwitchBinPlacer,
              'roundrobin': upstream.RoundRobinPlacer, 'random': upstream.RandomPlacer}
TAP_RANGE = (1000, 60000)   # ssh -w numbers: the tunnels' taps are tap<N>, drawn here and checked free on both ends


class _TestbedSsh:
    """The testbed's ssh options on a remote node (upstream's ``sshbase`` is a class attribute without them), and
    every ssh the node starts recorded in ``run`` the moment it exists: ending it ends the node's shell (or command)
    on the server, also when the client was killed before the server's agent had recorded that shell."""

    def __init__(self, *args, run=None, **kwargs):
        self.sshbase = ['ssh', *ssh_options(), '-q', '-tt']
        self.client_run = run
        super().__init__(*args, **kwargs)

    def _popen(self, cmd, **params):  # Mininet's API name
        with deferred_signals():
            popen = super()._popen(cmd, **params)
            if self.client_run is not None and self.isRemote:
                self.client_run.record_process(popen.pid, f'ssh for {self.name} on {self.server}')
        return popen


class ClusterHost(_TestbedSsh, upstream.RemoteHost):
    """A host on a server."""


class ClusterSwitch(_TestbedSsh, upstream.RemoteOVSSwitch):
    """An Open vSwitch bridge on a server, speaking OpenFlow 1.3, tagged with that server's run, on the datapath
    that server's probe chose (``datapaths``: server -> 'user' or 'kernel')."""

    def __init__(self, name, run_ids: Optional[Dict[str, str]] = None, datapaths: Optional[Dict[str, str]] = None,
                 **params):
        params.setdefault('protocols', 'OpenFlow13')
        params['datapath'] = (datapaths or {}).get(params.get('server') or 'localhost', 'kernel')
        self.run_ids = run_ids or {}
        super().__init__(name, **params)

    def bridgeOpts(self):  # Mininet hook: options of the ovs-vsctl transaction that creates the bridge
        return super().bridgeOpts() + f' external_ids:{RUN_TAG}={self.run_ids.get(self.server, "")}'

    @classmethod
    def batchStartup(cls, switches, **_kwargs):  # Mininet's API name
        """Upstream types each server's one long ``ovs-vsctl`` into the node's shell, through ssh's pseudo-terminal,
        whose line holds 4,095 characters. Each switch adds about 510 (measured), so past 8 switches on a server it
        was cut, and with 10 (5,067 characters) no bridge was made. Here it goes as ssh's command line (``rcmd``)."""
        for server in sorted({switch.server for switch in switches}):
            group = [switch for switch in switches if switch.server == server]
            OVSSwitch.batchStartup(group, run=lambda command, shell=True, node=group[0]: _checked_rcmd(node, command))
        return switches


class ClusterLink(upstream.RemoteSSHLink):
    """A link: a veth pair on one server, an ssh Ethernet tunnel between two (taps numbered per link). What it makes
    in a server's root namespace (a tap, a veth between two switches) ``net`` creates and records there at once; the
    tunnel's ssh is recorded in ``net``'s run, so that ending it ends the tunnel on the servers too."""

    def __init__(self, node1, node2, net=None, **kwargs):
        self.net = net
        super().__init__(node1, node2, **kwargs)

    def makeIntfPair(self, intfname1, intfname2, addr1=None, addr2=None, node1=None, node2=None,
                     deleteIntfs=True):  # Mininet's API name
        node1 = self.node1 if node1 is None else node1
        node2 = self.node2 if node2 is None else node2
        if (self.net is not None and node1.server == node2.server and not node1.inNamespace
                and not node2.inNamespace):
            return self.net.create_veth(node1, intfname1, intfname2, addr1, addr2)
        return super().makeIntfPair(intfname1, intfname2, addr1, addr2, node1, node2, deleteIntfs)

    def makeTunnel(self, node1, node2, intfname1, intfname2, addr1=None, addr2=None):
        if node2.server == 'localhost':  # the tunnel's ssh runs from node1's server toward node2's
            return self.makeTunnel(node2, node1, intfname2, intfname1, addr2, addr1)
        number = _free_tap(node1, node2)
        tap = f'tap{number}'
        for node in (node1, node2):
            self.net.create_tap(node, tap)
        options = ssh_options() if not node1.isRemote else ['-o', 'BatchMode=yes']
        self.cmd = ['ssh', *options, '-n', '-o', 'Tunnel=Ethernet', '-w', f'{number}:{number}',
                    f'{node2.user}@{node2.serverIP}', 'echo @']
        with deferred_signals():
            tunnel = node1.rpopen(self.cmd, sudo=False)
            self.net.run.record_process(tunnel.pid, f'ssh tunnel {node1.server} -> {node2.server}')
        first = tunnel.stdout.read(1).decode(errors='replace')
        if first != '@':
            rest = tunnel.stdout.read().decode(errors='replace').strip()
            raise TestbedError(f'link {intfname1}-{intfname2}: the ssh tunnel from {node1.server} to {node2.server} '
                               f'did not come up: {(first + rest) or "no output"} (sshd needs PermitTunnel yes)')
        for node, intf, addr in ((node1, intfname1, addr1), (node2, intfname2, addr2)):
            if node.inNamespace:   # a host's: it ends with the host's namespace
                self.moveIntf(tap, node)
                node.cmd(f'ip link set {tap} name {intf}' + (f' address {addr}' if addr else ''))
            else:                  # a switch's port, in the server's root namespace: recorded under its new name
                self.net.rename_link(node, tap, intf, addr)
        return tunnel


def cluster_shaping(options: dict, where: str) -> LinkParams:
    """A cluster link's shaping: bandwidth and queue, as on one machine (HTB at each end's egress, on the link's
    interfaces, so a tunnel between servers neither doubles nor drops it). Delay, jitter, loss and serialisation
    need netem or a delay line on the servers, which a cluster run does not set up yet: refused in one line."""
    params = LinkParams.from_options({key: value for key, value in options.items() if value is not None}, where)
    if params.needs_delay:
        raise TestbedError(f'{where}: delay, jitter, loss and serialisation are not carried across a cluster yet '
                           '(bw and max_queue_size are); leave them out')
    return params


def _checked_rcmd(node, command: str) -> str:
    output = node.rcmd(command)
    if 'ovs-vsctl:' in output:
        raise TestbedError(f'{node.server}: {output.strip().splitlines()[0]}')
    return output


@functools.lru_cache(maxsize=None)
def remote_class(cls):
    """``cls`` (a topology's own node class, such as a routed host) able to live on a server."""
    if issubclass(cls, upstream.RemoteMixin):
        return cls
    return type(f'Cluster{cls.__name__}', (_TestbedSsh, upstream.RemoteMixin, cls), {})


def _free_tap(node1, node2) -> int:
    """A tap number free on both servers (drawn at random, then checked)."""
    for _ in range(20):
        number = random.randrange(*TAP_RANGE)
        if all('does not exist' in node.rcmd(f'ip link show tap{number}') for node in (node1, node2)):
            return number
    raise TestbedError(f'no free tap number on {node1.server} and {node2.server} after 20 draws')


class ClusterNet(upstream.MininetCluster):
    """A network whose nodes are placed on ``servers`` (names or addresses; 'localhost' is this machine)."""

    def __init__(self, topo=None, servers=('localhost',), placement='switchbin', controller=None, label='cluster',
                 user=None, algorithm='link-state', metric='hops', aggregate=False, **kwargs):
        if placement not in PLACEMENTS:
            raise TestbedError(f'unknown placement {placement!r} (known: {", ".join(sorted(PLACEMENTS))})')
        if controller not in (None, 'router'):
            raise TestbedError(f'a cluster run takes controller="router" only, not {controller!r}')
        if topo is not None:
            for a, b, info in topo.links(withInfo=True):
                cluster_shaping({key: info[key] for key in SHAPING_KEYS if key in info}, f'link {a}-{b}')
        self.sshcmd = ['ssh', *ssh_options()]
        user = user or upstream.findUser()   # the cluster edition's: the user who ran sudo, with that user's keys
        self.run = Run(label)
        self.agents: Dict[str, Agent] = {}
        self.paths: Dict[str, Dict[str, str]] = {}
        self.routed = controller == 'router'
        self.plan = current_plan()   # this machine's; each server's own comes from its agent (self.paths)
        self.algorithm, self.metric = algorithm, metric
        try:
            self._check_servers(servers, user)
            for server in servers:
                if server != 'localhost':
                    with deferred_signals():
                        self.agents[server] = agent = Agent(server, self.run.id, user)
                        self.run.record_process(agent.process.pid, f'ssh to the agent on {server}')
            run_ids = {'localhost': self.run.id, **{server: a.run_id for server, a in self.agents.items()}}
            self.paths = {'localhost': {feature: self.plan.path(feature) for feature in FEATURES},
                          **{server: agent.paths for server, agent in self.agents.items()}}
            datapaths = {server: 'user' if paths.get('datapath') == 'userspace' else 'kernel'
                         for server, paths in self.paths.items()}
            switch = functools.partial(ClusterSwitch, run=self.run, run_ids=run_ids, datapaths=datapaths,
                                       failMode='secure' if controller else 'standalone')
            controller_cls = None
            if controller:
                controller_cls = functools.partial(RyuController, run=self.run, apps=[ROUTER_APP],
                                                   listen=self._address_toward(servers), env={
                                                       'TESTBED_PLAN': self.run.path('plan.json'),
                                                       'TESTBED_ALGORITHM': algorithm, 'TESTBED_METRIC': metric,
                                                       'TESTBED_AGGREGATE': '1' if aggregate else ''})
            link = functools.partial(ClusterLink, net=self)
            super().__init__(topo=topo, servers=list(servers), placement=PLACEMENTS[placement], host=ClusterHost,
                             switch=switch, link=link, controller=controller_cls, precheck=False,
                             user=user, build=False, cleanup=False, autoSetMacs=True,
                             **kwargs)
            if topo is not None:
                self.build()
        except BaseException:
            stop_after_failure(self.stop)
            raise

    # -- servers ----------------------------------------------------------------------------------------------
    @staticmethod
    def _check_servers(servers, user: str) -> None:
        """Upstream's precheck, as one error: each server answers ssh in batch mode and sudo without a password."""
        if len(set(servers)) != len(servers) or not servers:
            raise TestbedError(f'cluster servers {",".join(servers)}: name each server once')
        for server in servers:
            if server == 'localhost':
                continue
            if upstream.RemoteMixin.findServerIP(server) is None:
                raise TestbedError(f'cluster server {server}: no IPv4 address for it (the cluster edition reaches '
                                   'servers by IPv4)')
            done = run_on(server, ['sudo', '-n', 'true'], user=user)
            if done.returncode != 0:
                detail = (done.stderr.strip().splitlines() or [f'exit {done.returncode}'])[-1]
                raise TestbedError(f'cluster server {server}: ssh in batch mode and sudo without a password failed '
                                   f'({detail}); testbed cluster doctor {server} says what to fix')

    @staticmethod
    def _address_toward(servers) -> str:
        """This machine's source address toward the first remote server (where the switches find the controller)."""
        remote = [upstream.RemoteMixin.findServerIP(s) for s in servers if s != 'localhost']
        if not remote:
            return '127.0.0.1'
        route = subprocess.run(['ip', '-o', 'route', 'get', remote[0]], capture_output=True, text=True).stdout.split()
        if 'src' not in route:
            raise TestbedError(f'no route from this machine to {remote[0]}')
        return route[route.index('src') + 1]

    def _agent(self, node):
        return self.agents.get(getattr(node, 'server', 'localhost'))

    def create_tap(self, node, name: str) -> None:
        """A tunnel's tap in the root namespace of ``node``'s server, recorded there as it is made."""
        agent = self._agent(node)
        if agent:
            agent.record(tap=name, user=node.user)
        else:
            with deferred_signals():
                create_tap(self.run, name, node.user)

    def rename_link(self, node, name: str, new_name: str, mac: Optional[str]) -> None:
        """Rename an interface of the root namespace of ``node``'s server, recorded there under the new name."""
        agent = self._agent(node)
        if agent:
            agent.record(rename=[name, new_name], mac=mac)
        else:
            with deferred_signals():
                rename_link(self.run, name, new_name, mac)

    def create_veth(self, node, name: str, peer: str, mac: Optional[str], peer_mac: Optional[str]) -> None:
        """A veth pair between two switches of ``node``'s server, recorded there before it exists."""
        agent = self._agent(node)
        if agent:
            agent.record(veth=[name, peer], macs=[mac, peer_mac])
        else:
            with deferred_signals():
                create_veth(self.run, [name, peer], [mac, peer_mac])

    # -- nodes: recorded where they live, before the client goes on ---------------------------------------------
    def addHost(self, name, cls=None, **params):  # Mininet's API name
        cls = params.pop('cls', None) or cls
        with deferred_signals():
            host = super().addHost(name, cls=remote_class(cls) if cls else None, run=self.run, **params)
            agent = self._agent(host)
            if agent:
                agent.record(process=host.pid, what=f'host {name}')
                agent.record(netns=host.pid, name=name, what=f'namespace of {name}')
            else:
                self.run.record_process(host.pid, f'host {name}')
                self.run.record_netns(host.pid, name, f'namespace of {name}')
        return host

    def addSwitch(self, name, cls=None, **params):  # Mininet's API name
        with deferred_signals():
            switch = super().addSwitch(name, cls=cls, **params)
            agent = self._agent(switch)
            if agent:
                agent.record(bridge=name)
                agent.record(process=switch.pid, what=f'switch {name}')
            else:
                self.run.record_bridge(name)
                self.run.record_process(switch.pid, f'switch {name}')
        return switch

    def addLink(self, node1, node2, *args, **kwargs):  # Mininet's API name
        """A link, its shaping kept for ``start``; a switch's end lies in its server's root namespace and is
        recorded there at once."""
        names = [node.name if hasattr(node, 'name') else node for node in (node1, node2)]
        shaping = cluster_shaping({key: kwargs.pop(key) for key in SHAPING_KEYS if key in kwargs},
                                  f'link {names[0]}-{names[1]}')
        with deferred_signals():
            link = super().addLink(node1, node2, *args, **kwargs)
            link.shaping = shaping
            for intf in (link.intf1, link.intf2):
                if not intf.node.inNamespace:
                    agent = self._agent(intf.node)
                    if agent:
                        agent.record(link=intf.name)
                    else:
                        self.run.record_link(intf.name)
        return link

    def addController(self, *args, **kwargs):  # Mininet's API name: upstream's version re-addresses a root interface
        with deferred_signals():
            added = Mininet.addController(self, *args, **kwargs)
            self.run.record_process(added.pid, f'controller shell {added.name}')
        return added

    # -- life cycle -------------------------------------------------------------------------------------------
    def start(self):
        if self.controllers:
            write_controller_plan(self)
        super().start()
        # after the switches: Open vSwitch resets a port's root qdisc as it adds the port
        for link in [link for link in self.links if link.shaping != LinkParams()]:
            for intf in (link.intf1, link.intf2):
                install_qdiscs(intf, link.shaping, 'kernel', f'link {link.intf1.node.name}-{link.intf2.node.name}')
        checksums_in_software(self.hosts, [switch for switch in self.switches if switch.datapath == 'user'])
        if self.routed:
            self.controllers[0].wait_ready()

    def describe_links(self):
        """(link, shaping, how it is carried) per link, as ``TestbedNet.describe_links``."""
        rows = []
        for link in self.links:
            a, b = link.intf1.node, link.intf2.node
            carried = (f'ssh tunnel {a.server} -> {b.server}' if getattr(link, 'tunnel', None)
                       else f'veth on {getattr(a, "server", "localhost")}')
            rows.append((f'{a.name}-{b.name}', link.shaping.describe(), carried))
        return rows

    def stop(self):
        """Stop the network, then have every agent remove what its records still name, then sweep this machine."""
        problems: List[str] = []
        try:
            if getattr(self, 'nameToNode', None) is not None:
                super().stop()
        except Exception as exc:  # the agents and the sweep below still remove everything recorded
            problems.append(f'stopping the network: {exc}')
        for agent in self.agents.values():
            problems += agent.stop()
        left = self.run.sweep()
        self.run.close(remove=not left)
        if problems or left:
            raise TestbedError(f'cluster run {self.run.id}: could not remove {", ".join(problems + left)}')
