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
- links (``testbed.cluster.links``): ssh Ethernet tunnels between servers on a tap pair numbered per link, free on
  both servers (upstream creates every tunnel as ``tap9``: a second tunnel being set up at the same time, or a
  ``tap9`` that already exists on a server, breaks it; that ``tap9`` would then be renamed away from its owner);
  every shaping parameter as on one machine: HTB at each end's egress for ``bw`` and ``max_queue_size``, netem
  there for ``delay``, ``jitter`` and ``loss`` where both servers have it, else a delay line on one of them
  (``testbed.cluster.delay``), so a tunnel neither doubles nor drops the shaping;
- node services on the node's server (``plan_for``, ``file_for``): the 6to4 routers and relays, the DNS server;
  nodes whose services are not written for that are refused in one line;
- a failed precheck raises one clear error instead of ``sys.exit(1)``;
- the testbed's router app (``controller='router'``) on this machine, listening on its address toward the servers;
- the probe on every server (its agent runs it): each server's switches take the datapath its own kernel offers;
- switches that speak OpenFlow 1.3.
"""
import functools
import subprocess
from typing import Dict, List, Optional

from mininet.examples import cluster as upstream
from mininet.net import Mininet

from testbed.cluster.agent import handle
from testbed.cluster.delay import ServerDelayLines
from testbed.cluster.links import ClusterLink, cluster_shaping
from testbed.cluster.nodes import ClusterHost, ClusterSwitch, remote_class
from testbed.cluster.plan import delay_site
from testbed.cluster.remote import Agent, run_on, ssh_options
from testbed.control.ryu import RyuController, check_runtime
from testbed.errors import TestbedError
from testbed.link.params import SHAPING_KEYS, LinkParams, check_path
from testbed.link.shaped import install_qdiscs
from testbed.network.net import checksums_in_software, start_node_services, wait_for_ipv6, write_controller_plan
from testbed.system.interrupts import deferred_signals
from testbed.system.probe import FEATURES, PathPlan, current_plan
from testbed.system.runstate import Run, stop_after_failure

PLACEMENTS = {'switchbin': upstream.SwitchBinPlacer, 'hostswitchbin': upstream.HostSwitchBinPlacer,
              'roundrobin': upstream.RoundRobinPlacer, 'random': upstream.RandomPlacer}


def check_cluster_topology(topo) -> None:
    """Refuse in one line what a cluster run cannot carry: a link's impossible shaping, and nodes whose services
    (``start_services``) are not written to run on a server: those that keep their files and processes where the
    node is (``net.file_for``, ``net.plan_for``) say so with ``services_across_servers = True`` in the class that
    defines them (a host's name server, 6to4 routers and relays, the DNS server; not yet the other transition
    mechanisms' nodes)."""
    for a, b, info in topo.links(withInfo=True):
        cluster_shaping({key: info[key] for key in SHAPING_KEYS if key in info}, f'link {a}-{b}')
    for name in topo.nodes():
        cls = topo.nodeInfo(name).get('cls')
        owner = next((klass for klass in getattr(cls, '__mro__', ()) if 'start_services' in vars(klass)), None)
        if owner is not None and not vars(owner).get('services_across_servers'):
            raise TestbedError(f'node {name}: its services ({cls.__name__}) are not started across servers yet; '
                               'run this topology on one machine')


class ClusterNet(upstream.MininetCluster):
    """A network whose nodes are placed on ``servers`` (names or addresses; 'localhost' is this machine)."""

    def __init__(self, topo=None, servers=('localhost',), placement='switchbin', controller=None, label='cluster',
                 user=None, algorithm='link-state', metric='hops', aggregate=False, seed=1, controller_runtime=None,
                 **kwargs):
        if placement not in PLACEMENTS:
            raise TestbedError(f'unknown placement {placement!r} (known: {", ".join(sorted(PLACEMENTS))})')
        if controller not in (None, 'router'):
            raise TestbedError(f'a cluster run takes controller="router" only, not {controller!r}')
        if controller_runtime is not None:
            check_runtime(controller_runtime)
        if topo is not None:
            check_cluster_topology(topo)
        self.sshcmd = ['ssh', *ssh_options()]
        user = user or upstream.findUser()   # the cluster edition's: the user who ran sudo, with that user's keys
        self.run = Run(label)
        self.agents: Dict[str, Agent] = {}
        self.paths: Dict[str, Dict[str, str]] = {}
        self.routed = controller == 'router'
        self.plan = current_plan()   # this machine's; each server's own comes from its agent (self.paths)
        self.algorithm, self.metric = algorithm, metric
        self.seed = seed
        self.delay_lines: Dict[str, ServerDelayLines] = {}   # server -> its delay namespace and lines
        self.user = user
        try:
            self._check_servers(servers, user)
            for server in servers:
                if server != 'localhost':
                    with deferred_signals():
                        self.agents[server] = agent = Agent(server, self.run.id, user)
                        self.run.record_process(agent.process.pid, f'ssh to the agent on {server}')
                        self.run.record('server', server=server, run=agent.run_id, user=user)
            run_ids = {'localhost': self.run.id, **{server: a.run_id for server, a in self.agents.items()}}
            self.paths = {'localhost': {feature: self.plan.path(feature) for feature in FEATURES},
                          **{server: agent.paths for server, agent in self.agents.items()}}
            datapaths = {server: 'user' if paths.get('datapath') == 'userspace' else 'kernel'
                         for server, paths in self.paths.items()}
            switch = functools.partial(ClusterSwitch, run=self.run, run_ids=run_ids, datapaths=datapaths,
                                       failMode='secure' if controller else 'standalone')
            controller_cls = None
            if controller:
                controller_cls = functools.partial(RyuController, run=self.run, runtime=controller_runtime,
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

    def on_server(self, node, **request) -> dict:
        """Have ``node``'s server create or record what ``request`` names (a request of ``testbed.cluster.agent``,
        carried out by that server's agent, or here in this run for a node on 'localhost') before the client goes
        on; the answer."""
        agent = self._agent(node)
        if agent:
            return agent.record(**request)
        with deferred_signals():
            return handle(self.run, request)

    def record_node(self, node, what: str) -> None:
        """A node's shell and its pinned namespace, recorded on its server."""
        self.on_server(node, process=node.pid, what=what)
        if node.inNamespace:
            self.on_server(node, netns=node.pid, name=node.name, what=f'namespace of {what}')

    # -- nodes: recorded where they live, before the client goes on ---------------------------------------------
    def addHost(self, name, cls=None, **params):  # Mininet's API name
        cls = params.pop('cls', None) or cls
        with deferred_signals():
            host = super().addHost(name, cls=remote_class(cls) if cls else None, run=self.run, **params)
            self.record_node(host, f'host {name}')
        return host

    def addSwitch(self, name, cls=None, **params):  # Mininet's API name
        with deferred_signals():
            switch = super().addSwitch(name, cls=cls, **params)
            self.on_server(switch, bridge=name)
            self.on_server(switch, process=switch.pid, what=f'switch {name}')
        return switch

    def addLink(self, node1, node2, *args, **kwargs):  # Mininet's API name
        """A link with its shaping: HTB at each end's egress (installed at ``start``), delay, jitter and loss by netem
        there or by a server's delay line (``testbed.cluster.delay``); a switch's end lies in its server's root
        namespace and is recorded there at once."""
        node1, node2 = (self[node] if isinstance(node, str) else node for node in (node1, node2))
        where = f'link {node1.name}-{node2.name}'
        shaping = cluster_shaping({key: kwargs.pop(key) for key in SHAPING_KEYS if key in kwargs}, where)
        if shaping.needs_delay:
            site = delay_site((node1.server, node2.server),
                              {server: paths.get('delay', 'userspace') for server, paths in self.paths.items()})
            check_path(shaping, 'kernel' if site is None else 'userspace', where)
            if site is not None:
                if site not in self.delay_lines:
                    self.delay_lines[site] = ServerDelayLines(self, site, self.user)
                kwargs.update(lines=self.delay_lines[site], line_index=sum(len(lines.specs) for lines in
                                                                             self.delay_lines.values()))
        with deferred_signals():
            link = super().addLink(node1, node2, *args, shaping=shaping, **kwargs)
            for intf in (link.intf1, link.intf2):
                if not intf.node.inNamespace:
                    self.on_server(intf.node, link=intf.name)
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
        # The delay lines carry frames before the switches start, so the controller's first LLDP probes cross them.
        for lines in self.delay_lines.values():
            lines.start()
        super().start()
        # after the switches: Open vSwitch resets a port's root qdisc as it adds the port
        for link in [link for link in self.links if link.shaping != LinkParams()]:
            for intf in (link.intf1, link.intf2):
                install_qdiscs(intf, link.shaping, 'kernel' if link.lines is None else 'userspace',
                               f'link {link.intf1.node.name}-{link.intf2.node.name}')
        checksums_in_software(self.hosts, [switch for switch in self.switches if switch.datapath == 'user'])
        if self.routed:
            self.controllers[0].wait_ready()
        start_node_services(self)
        wait_for_ipv6(self.hosts)

    # -- what a node's services need, where the node is ----------------------------------------------------------
    def plan_for(self, node) -> PathPlan:
        """The data-plane paths of ``node``'s server (its agent's probe there)."""
        paths = self.paths.get(getattr(node, 'server', 'localhost'), {})
        return PathPlan(**{feature: paths.get(feature, 'userspace') for feature in FEATURES})

    def file_for(self, node, name: str, text: Optional[str] = None) -> str:
        """A file of the run on ``node``'s server (in its agent's run folder there), written with ``text`` if
        given; its path there."""
        return str(self.on_server(node, file=name, text=text)['path'])

    def describe_links(self):
        """(link, shaping, how it is carried) per link, as ``TestbedNet.describe_links``."""
        return [(f'{link.intf1.node.name}-{link.intf2.node.name}', link.shaping.describe(), link.describe())
                for link in self.links]

    def stop(self):
        """Stop the network, then have every agent remove what its records still name, then sweep this machine."""
        problems: List[str] = []
        for host in getattr(self, 'hosts', []):
            try:
                if hasattr(host, 'stop_services'):
                    host.stop_services()
            except Exception as exc:  # what it started lies in its namespace: swept below
                problems.append(f'{host.name} services: {exc}')
        try:
            if getattr(self, 'nameToNode', None) is not None:
                super().stop()
        except Exception as exc:  # the agents and the sweep below still remove everything recorded
            problems.append(f'stopping the network: {exc}')
        for lines in self.delay_lines.values():
            try:
                lines.stop()
            except Exception as exc:  # its records are swept below
                problems.append(f'the delay namespace on {lines.server}: {exc}')
        for agent in self.agents.values():
            problems += agent.stop()
        left = self.run.sweep()
        self.run.close(remove=not left)
        if problems or left:
            raise TestbedError(f'cluster run {self.run.id}: could not remove {", ".join(problems + left)}')
