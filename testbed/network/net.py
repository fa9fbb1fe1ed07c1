"""The emulated network: Mininet with checked links, the probe's data-plane paths and scoped cleanup.

``TestbedNet`` is a ``Mininet`` that
- records every process, namespace, bridge and root-namespace interface it creates in a ``Run`` (see
  ``testbed.system.runstate``), so ``testbed clean`` can remove exactly those after a crash;
- builds OVS switches speaking OpenFlow 1.3 on the datapath the probe chose (kernel, or userspace ``netdev``),
  tagged with the run id; standalone (learning) without a controller, fail-secure with one;
- makes links with ``testbed.link.shaped``: netem on the kernel path, a delay line on the userspace path, HTB for
  rate on
  both, and reads back what the kernel holds;
- turns transmit checksum offload off on node interfaces when the OVS datapath is userspace (otherwise TCP
  through it stalls: ping works, iperf3 hangs).
"""
import contextlib
import functools
import json
import os
import subprocess
import sys
import time

from mininet.net import Mininet
from mininet.node import Host, Node, OVSSwitch

from testbed.control.ryu import ExternalController, RyuController, check_runtime, parse_controller_address, \
    wait_for_controller
from testbed.control.flows import build_plan, install_allowance_s, unroutable
from testbed.errors import TestbedError, CapabilityError
from testbed.system.daemon import raise_file_limit
from testbed.system.interrupts import deferred_signals, stop_on_signals
from testbed.link.params import SHAPING_KEYS, LinkParams, check_path
from testbed.link.lines import DelayLines
from testbed.link.shaped import DelayLineLink, ShapedLink, apply_shaping_together, delete_links_together
from testbed.system.probe import current_plan, early_release_us
from testbed.system.runstate import RUN_TAG, Run, end_namespace_processes
from testbed.network.topo import validate

DELAY_NODE_NAME = 'tbdelay'
FILES_PER_NODE = 4    # a node's terminal and pipes, with room to spare
SHELL_SETTLE_S = 2.0  # how long an interrupted command in a node's shell may take to give the prompt back


class TestbedSwitch(OVSSwitch):
    """An Open vSwitch bridge speaking OpenFlow 1.3, tagged with the run that created it."""

    isSetup = False  # Mininet's per-class setup flag; without this it is inherited once any Node was set up

    def __init__(self, name, run_id='', **params):
        params.setdefault('protocols', 'OpenFlow13')
        params.setdefault('batch', True)   # Mininet's batchStartup: one ovs-vsctl for all bridges (506 bridges one
        # at a time took 8.7 min here: each ovs-vsctl waits for ovs-vswitchd to reconfigure every bridge)
        self.run_id = run_id
        super().__init__(name, **params)

    def bridgeOpts(self):  # Mininet hook: options of the ovs-vsctl transaction that creates the bridge
        return super().bridgeOpts() + f' external_ids:{RUN_TAG}={self.run_id}'


class DelayNamespace(Node):
    """The namespace that holds the delay lines (a class of its own: Mininet's per-class setup flag, set on
    ``Node`` itself, would make every OVSSwitch in this process skip its setup)."""

    isSetup = False


def _names_of(cmd):
    shown = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return set(shown.stdout.split()) if shown.returncode == 0 else set()


class MachineNames:
    """The names already taken on this machine where the testbed creates objects: root-namespace interfaces
    (veths, taps, bridges' own devices), Open vSwitch bridges and ports, and named network namespaces."""

    def __init__(self):
        self.taken = {  # most specific kind first: an OVS bridge is also a port and an interface
            'an Open vSwitch bridge': _names_of(['ovs-vsctl', '--timeout=5', 'list-br']),
            'an Open vSwitch port': _names_of(['ovs-vsctl', '--timeout=5', '--bare', '--columns=name', 'list',
                                               'Interface']),
            'an interface': set(os.listdir('/sys/class/net')),
            'a network namespace': set(os.listdir('/run/netns')) if os.path.isdir('/run/netns') else set(),
        }

    def clash(self, name):
        """The kinds of foreign object already called ``name`` (empty when the name is free)."""
        return [kind for kind, names in self.taken.items() if name in names]

    def refuse(self, name, what):
        """Raise TestbedError if ``name`` is taken (``what``: 'switch s1', for the message)."""
        kinds = self.clash(name)
        if kinds:
            raise TestbedError(f'{what}: {kinds[0]} called {name!r} already exists and is not this run\'s; rename '
                               f'the {what.split()[0]} or remove that {kinds[0].split(" ", 1)[1]} yourself')


def settle_shell(node, timeout=SHELL_SETTLE_S):
    """Give a node's shell its prompt back after a ``node.cmd`` was interrupted (Ctrl-C while Mininet waited for
    the command): interrupt the command and read up to its end. False if the shell does not come back."""
    if not getattr(node, 'shell', None) or not node.waiting:
        return True
    try:
        node.sendInt()
        deadline = time.monotonic() + timeout
        while node.waiting and time.monotonic() < deadline:
            node.monitor(timeoutms=100)
    except (OSError, ValueError):
        return False
    return not node.waiting


def check_topology(topo, plan):
    """Reject, before anything is created, a malformed topology (any Mininet Topo) and links the chosen paths
    cannot honour."""
    validate(topo)
    for node1, node2, info in topo.links(sort=True, withInfo=True):
        where = f'link {node1}-{node2}'
        shaping = LinkParams.from_options({k: v for k, v in info.items() if k in SHAPING_KEYS}, where)
        check_path(shaping, plan.delay, where)


class TestbedNet(Mininet):
    """A Mininet network whose links, switches and cleanup follow the testbed's rules."""

    def __init__(self, topo=None, plan=None, run=None, controller=None, label='net', seed=1, algorithm='link-state',
                 metric='hops', admission=None, remote_controller=None, aggregate=False, controller_runtime=None,
                 **kwargs):
        """``controller``: None (standalone learning switches), ``'router'`` (the testbed's Ryu router app:
        computed forwarding tables), or a list of Ryu apps (module names or files) to run instead. ``admission``:
        a file whose ``admit(path_links, rate)`` decides circuit requests (lab 4) instead of the built-in rule.
        ``remote_controller``: ``'HOST[:PORT]'`` of an OpenFlow 1.3 controller the user runs (instead of
        ``controller``); it must listen already (or within a few seconds), and the testbed never stops it.
        ``aggregate``: the router app merges adjacent prefixes that leave by the same port (fewer entries, the same
        forwarding: for networks with thousands of routes per switch). ``controller_runtime``: 'ryu' or 'os-ken'
        (default: $TESTBED_CONTROLLER_RUNTIME, else 'ryu'; see testbed.control.ryu)."""
        if controller_runtime is not None:
            check_runtime(controller_runtime)
        if os.geteuid() != 0:
            raise CapabilityError('building a network needs root (run with sudo)')
        if remote_controller and controller:
            raise TestbedError('a network has either the testbed\'s controller or a remote one, not both')
        remote = wait_for_controller(*parse_controller_address(remote_controller)) if remote_controller else None
        self.plan = plan or current_plan()
        if topo is not None:
            check_topology(topo, self.plan)
            raise_file_limit(FILES_PER_NODE * len(topo.nodes()) + 256)
        self._names = MachineNames()
        if topo is not None:
            for name in topo.nodes():
                if topo.isSwitch(name) or topo.nodeInfo(name).get('inNamespace') is False:
                    self._names.refuse(name, f'switch {name}' if topo.isSwitch(name) else f'node {name}')
        self.seed = seed
        self.early_release_us = early_release_us()
        self.run = run or Run(label)
        self._own_run = run is None
        self._delay_node = None
        self._lines = None         # the delay lines' processes (on the userspace path, once a link needs one)
        self._delay_links = 0
        self._namespaces = []  # this network's namespace records (a run passed in may hold others')
        self.link_stats = {}
        self._stopped = False
        self.router_status = None
        self.routed = controller == 'router'
        controller_cls = None
        if controller:
            apps = None if controller == 'router' else (
                [controller] if isinstance(controller, str) else list(controller))
            controller_cls = functools.partial(RyuController, run=self.run, apps=apps, runtime=controller_runtime,
                                               env={'TESTBED_PLAN': self.run.path('plan.json'),
                                                    'TESTBED_ALGORITHM': algorithm, 'TESTBED_METRIC': metric,
                                                    'TESTBED_AGGREGATE': '1' if aggregate else '',
                                                    **({'TESTBED_ADMISSION': os.path.abspath(admission)}
                                                       if admission else {})})
        elif remote:
            controller_cls = functools.partial(ExternalController, ip=remote[0], port=remote[1])
        self.algorithm, self.metric = algorithm, metric
        switch = functools.partial(
            TestbedSwitch, run_id=self.run.id,
            datapath='user' if self.plan.datapath == 'userspace' else 'kernel',
            failMode='secure' if controller or remote else 'standalone')
        kwargs.setdefault('autoSetMacs', True)
        try:
            super().__init__(topo=topo, switch=switch, host=Host, link=ShapedLink, controller=controller_cls,
                             build=False, cleanup=False, **kwargs)
            if topo is not None:
                self.build()
        except BaseException:
            self.stop()
            raise

    # -- nodes: each node's shell is recorded before a signal can end the run -----------------------------------
    def addHost(self, name, cls=None, **params):  # Mininet's API name
        with deferred_signals():
            host = super().addHost(name, cls=cls, **params)
            self.run.record_process(host.pid, f'host {name}')
            if host.inNamespace:
                self._namespaces.append(self.run.record_netns(host.pid, name, f'namespace of {name}'))
        return host

    def addSwitch(self, name, cls=None, **params):  # Mininet's API name
        self._names.refuse(name, f'switch {name}')
        if 'dpid' not in params and not any(ch.isdigit() for ch in name):
            params['dpid'] = '%016x' % (len(self.switches) + 1)
        with deferred_signals():
            self.run.record_bridge(name)  # before the bridge exists: it is created when the switch starts
            switch = super().addSwitch(name, cls=cls, **params)
            self.run.record_process(switch.pid, f'switch {name}')
        return switch

    def addController(self, name='c0', controller=None, **params):  # Mininet's API name
        with deferred_signals():
            added = super().addController(name, controller, **params)
            self.run.record_process(added.pid, f'controller shell {added.name}')
        return added

    def delay_node(self):
        """The namespace that holds the delay lines' veth ends (created on first use)."""
        if self._delay_node is None:
            with deferred_signals():
                self._delay_node = DelayNamespace(DELAY_NODE_NAME, inNamespace=True)
                self.run.record_process(self._delay_node.pid, 'delay namespace')
                self._namespaces.append(self.run.record_netns(self._delay_node.pid, DELAY_NODE_NAME,
                                                              'delay namespace'))
            # No IPv6 link-local chatter (RS, MLD, DAD) may leak from the inner ends into the links.
            self._delay_node.cmd('sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1')
            self._delay_node.cmd('ip link set lo up')
            self._lines = DelayLines(self._delay_node, self.run, self.early_release_us)
        return self._delay_node

    # -- what a node's services need -----------------------------------------------------------------------------
    def plan_for(self, node):
        """The data-plane paths for ``node``'s services (this machine's on one machine)."""
        return self.plan

    def file_for(self, node, name: str, text=None) -> str:
        """A file of the run that ``node``'s processes can read and write (on one machine: in the run's folder);
        written with ``text`` if given. Its path."""
        return self.run.file(name, text)

    # -- links ------------------------------------------------------------------------------------------------
    def addLink(self, node1, node2, port1=None, port2=None, cls=None, **params):  # Mininet's API name
        node1 = self[node1] if isinstance(node1, str) else node1
        node2 = self[node2] if isinstance(node2, str) else node2
        where = f'link {node1.name}-{node2.name}'
        shaping = LinkParams.from_options({k: params.pop(k) for k in SHAPING_KEYS if k in params}, where)
        check_path(shaping, self.plan.delay, where)
        for node, port in ((node1, port1), (node2, port2)):
            if not node.inNamespace:
                intf = f'{node.name}-eth{port if port is not None else node.newPort()}'
                if os.path.exists(f'/sys/class/net/{intf}') or self._names.clash(intf):
                    raise TestbedError(f'{where}: an interface or Open vSwitch port called {intf} already exists '
                                       f'(another network running?); stop it or rename the node')
        if cls is None and self.plan.delay == 'userspace' and shaping.needs_delay:
            cls = functools.partial(DelayLineLink, delay_node=self.delay_node(), index=self._delay_links,
                                    lines=self._lines)
            self._delay_links += 1
        # The link records its root-namespace interfaces itself, before creating them (ShapedLink.makeIntfPair).
        return super().addLink(node1, node2, port1, port2, cls=cls, shaping=shaping, run=self.run,
                               delay_plan=self.plan.delay, **params)

    # -- life cycle -------------------------------------------------------------------------------------------
    def build(self):
        super().build()
        seen = {}
        for switch in self.switches:
            if switch.dpid in seen:
                raise TestbedError(f'switches {seen[switch.dpid]} and {switch.name} have the same datapath id '
                                   f'{switch.dpid} (give one of them dpid=...)')
            seen[switch.dpid] = switch.name

    def start(self):
        if self.controllers:
            plan = write_controller_plan(self)
        # The delay lines carry frames before the switches start, so the controller's first LLDP probes cross them.
        # The qdiscs come after: Open vSwitch resets a port's root qdisc as it adds the port.
        if self._lines is not None:
            self._lines.start(self.seed)
        super().start()
        apply_shaping_together(self.links)
        if self.routed:
            self.router_status = self.controllers[0].wait_ready(extra=install_allowance_s(plan))
        if self.plan.datapath == 'userspace':
            checksums_in_software(self.hosts, self.switches)
        start_node_services(self)
        tunnels = {host.name: host.tunnel_record() for host in self.hosts if hasattr(host, 'tunnel_record')}
        if tunnels:  # for `testbed sixtofour` in another terminal
            with open(self.run.path('tunnels.json'), 'w') as handle:
                json.dump(tunnels, handle, indent=1)
        wait_for_ipv6(self.hosts)
        with open(self.run.path('network.json'), 'w') as handle:   # for `testbed web` and others
            json.dump(self.network_record(), handle, indent=1)

    def network_record(self):
        """The nodes (their classes, their shell's PID: the namespace to read) and the links (both ends' interfaces,
        rate in bits/s, one-way delay in seconds, where its delay line writes its counters if it has one), as other
        processes read them."""
        nodes = {node.name: {'pid': node.pid, 'classes': [cls.__name__ for cls in type(node).__mro__[:-1]],
                             'ip': node.IP() if node in self.hosts else None,
                             'ip6': (node.params.get('ip6') or '').split('/')[0] or None}
                 for node in self.hosts + self.switches}
        links = []
        for index, link in enumerate(self.links):
            ends = (link.intf1.node, link.intf2.node)
            repeated = any((other.intf1.node, other.intf2.node) == ends for other in self.links[:index])
            shaping = getattr(link, 'shaping', LinkParams())   # a link class of the user's own has none
            links.append({'id': f'{ends[0].name}-{ends[1].name}' + (f'#{index}' if repeated else ''),
                          'a': ends[0].name, 'a_intf': link.intf1.name, 'b': ends[1].name, 'b_intf': link.intf2.name,
                          'bw': shaping.bw, 'delay': shaping.delay,
                          'delay_line': self._lines.stats_of(link) if isinstance(link, DelayLineLink) else None})
        return {'nodes': nodes, 'links': links}

    def stop(self):
        """Remove everything this network created, whatever state it is in (also half built, or with a host
        command interrupted by Ctrl-C), then forget the run once nothing it recorded is left. Signals that
        arrive meanwhile are delivered afterwards. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        with deferred_signals():
            problems = []

            def attempt(what, action, *args):
                try:
                    action(*args)
                except Exception as exc:  # keep stopping: the sweep below removes what a failed step left
                    problems.append(f'{what}: {exc}')

            nodes = getattr(self, 'hosts', []) + getattr(self, 'switches', []) + getattr(self, 'controllers', [])
            for node in nodes:
                if not settle_shell(node):
                    attempt(f'{node.name} shell', node.terminate)
            for host in getattr(self, 'hosts', []):
                if hasattr(host, 'stop_services'):
                    attempt(f'{host.name} services', host.stop_services)
            if self._lines is not None:   # reaped after Mininet's stop: closing their sockets takes the kernel time
                attempt('delay lines', self._lines.begin_stop)
            # the nodes' own shells end with their nodes below (an interactive shell ignores SIGTERM); the delay
            # lines are stopping already
            ours = {node.pid for node in nodes + [self._delay_node] if node is not None and node.pid}
            ours.update(self.delay_line_processes()[0])
            attempt('processes left in the nodes', end_namespace_processes, self._namespaces, ours)
            if hasattr(self, 'controllers'):  # Mininet's own __init__ completed
                attempt('links', delete_links_together, self.links)
                attempt('Mininet', super().stop)
            if self._lines is not None:
                attempt('delay lines', self._stop_delay_lines)
            if self._delay_node is not None:
                attempt('delay namespace', self._delay_node.terminate)
                self._delay_node = None
            if not self._own_run:
                return  # a run passed in may hold other networks' objects: its owner sweeps and closes it
            left = []
            attempt('cleanup', lambda: left.extend(self.run.sweep()))
            self.run.close(remove=not left and not any(p.startswith('cleanup') for p in problems))
            if left:
                print(f'testbed: warning: run {self.run.id} left {", ".join(left)}; remove it with: '
                      f'testbed clean --run {self.run.id}', file=sys.stderr)

    def _stop_delay_lines(self):
        counters = self._lines.stop()
        for link in self.links:
            if isinstance(link, DelayLineLink) and link.key in counters:
                self.link_stats[link.name()] = counters[link.key]

    # -- reporting --------------------------------------------------------------------------------------------
    def delay_line_processes(self):
        """(PIDs of the delay-line processes, how many links they serve): what the userspace delay costs."""
        if self._lines is None:
            return [], 0
        return [process.pid for process, _ in self._lines.processes], len(self._lines.links)

    def describe_links(self):
        """(link name, shaping, path) for each link."""
        rows = []
        for link in self.links:
            directions = link.egress.values()
            path = link.delay_path if any(p.needs_delay for p in directions) else \
                'kernel (htb)' if any(p.bw for p in directions) else '-'
            rows.append((f'{link.intf1.node.name}-{link.intf2.node.name}', link.describe(), path))
        return rows



def write_controller_plan(net) -> dict:
    """The controller's plan of a built network (``net.algorithm``, ``net.metric``), written to the run directory
    where the controller reads it (``TESTBED_PLAN``); a network the router app cannot route (``net.routed``) is
    refused first."""
    plan = build_plan(net, net.algorithm, net.metric)
    problem = unroutable(plan) if net.routed else None
    if problem:
        raise TestbedError(problem)
    with open(net.run.path('plan.json'), 'w') as handle:
        json.dump(plan, handle, indent=1)
    return plan


def checksums_in_software(hosts, switches):
    """The checksum-offload trap of userspace switches: a veth leaves a frame's TCP/UDP checksum to be filled in
    later, which ovs-vswitchd's userspace datapath never does, so TCP fails while ping works. Hosts attached to a
    switch fill their checksums in themselves (transmit offload off on those interfaces only)."""
    switches = set(switches)
    for host in hosts:
        for intf in host.intfList():
            link = intf.link
            peer = link and (link.intf2 if link.intf1 is intf else link.intf1)
            if peer is not None and peer.node in switches:
                host.cmd(f'ethtool -K {intf.name} tx off 2>/dev/null')


def start_node_services(net) -> None:
    """Start what runs inside ``net``'s nodes (``start_services``): those whose service others call while starting
    (a tunnel broker) first, the rest in order."""
    for host in sorted(net.hosts, key=lambda node: not getattr(node, 'serves_at_start', False)):
        if hasattr(host, 'start_services'):
            host.start_services(net)


def wait_for_ipv6(hosts) -> None:
    """Wait until the IPv6 addresses of the hosts that have some (and of the routers) are usable."""
    wait_for_dad([host for host in hosts if host.params.get('ip6') or hasattr(host, 'core_attachments')])


def wait_for_dad(hosts, timeout=10.0):
    """Return once no IPv6 address of any host is tentative (duplicate address detection finished)."""
    deadline = time.monotonic() + timeout
    pending = list(hosts)
    while pending:
        pending = [host for host in pending if host.cmd('ip -6 -o addr show tentative').strip()]
        failed = [host.name for host in hosts if host.cmd('ip -6 -o addr show dadfailed').strip()]
        if failed:
            raise TestbedError(f'duplicate IPv6 address detected on {", ".join(failed)}')
        if pending and time.monotonic() > deadline:
            raise TestbedError(f'IPv6 addresses still tentative after {timeout:.0f} s on '
                               f'{", ".join(h.name for h in pending)}')
        if pending:
            time.sleep(0.1)


@contextlib.contextmanager
def running(topo, **kwargs):
    """Build and start a TestbedNet for a ``with`` block; always stop it, also on errors, Ctrl-C and SIGTERM."""
    with stop_on_signals():
        net = TestbedNet(topo, **kwargs)
        try:
            net.start()
            yield net
        finally:
            net.stop()
