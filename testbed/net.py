"""The emulated network: Mininet with checked links, the probe's data-plane paths and scoped cleanup.

``TestbedNet`` is a ``Mininet`` that
- records every process, namespace, bridge and root-namespace interface it creates in a ``Run`` (see
  ``testbed.runstate``), so ``testbed clean`` can remove exactly those after a crash;
- builds OVS switches speaking OpenFlow 1.3 on the datapath the probe chose (kernel, or userspace ``netdev``),
  tagged with the run id; standalone (learning) without a controller, fail-secure with one;
- makes links with ``testbed.links``: netem on the kernel path, a delay line on the userspace path, HTB for rate on
  both, and reads back what the kernel holds;
- turns transmit checksum offload off on node interfaces when the OVS datapath is userspace (otherwise TCP
  through it stalls: PLATFORM.md).
"""
import contextlib
import functools
import json
import os
import signal
import threading
import time

from mininet.net import Mininet
from mininet.node import Host, Node, OVSSwitch

from testbed.controller import ROUTER_APP, RyuController
from testbed.controlplane import build_plan
from testbed.errors import TestbedError, CapabilityError
from testbed.linkparams import SHAPING_KEYS, LinkParams, check_path
from testbed.links import DelayLineLink, ShapedLink
from testbed.probe import current_plan, probe
from testbed.runstate import RUN_TAG, Run

DELAY_NODE_NAME = 'tbdelay'


class TestbedSwitch(OVSSwitch):
    """An Open vSwitch bridge speaking OpenFlow 1.3, tagged with the run that created it."""

    isSetup = False  # Mininet's per-class setup flag; without this it is inherited once any Node was set up

    def __init__(self, name, run_id='', **params):
        params.setdefault('protocols', 'OpenFlow13')
        self.run_id = run_id
        super().__init__(name, **params)

    def bridgeOpts(self):  # Mininet hook: options of the ovs-vsctl transaction that creates the bridge
        return super().bridgeOpts() + f' external_ids:{RUN_TAG}={self.run_id}'


def _existing_bridges():
    output = os.popen('ovs-vsctl --timeout=5 list-br 2>/dev/null').read()
    return set(output.split())


def check_topology(topo, plan):
    """Reject, before anything is created, links the chosen paths cannot honour."""
    for node1, node2, info in topo.links(sort=True, withInfo=True):
        where = f'link {node1}-{node2}'
        shaping = LinkParams.from_options({k: v for k, v in info.items() if k in SHAPING_KEYS}, where)
        check_path(shaping, plan.delay, where)


class TestbedNet(Mininet):
    """A Mininet network whose links, switches and cleanup follow the testbed's rules."""

    def __init__(self, topo=None, plan=None, run=None, controller=None, label='net', seed=1, algorithm='link-state',
                 metric='hops', admission=None, **kwargs):
        """``controller``: None (standalone learning switches), ``'router'`` (the testbed's Ryu router app:
        computed forwarding tables), or a list of Ryu apps (module names or files) to run instead. ``admission``:
        a file whose ``admit(path_links, rate)`` decides circuit requests (lab 4) instead of the built-in rule."""
        if os.geteuid() != 0:
            raise CapabilityError('building a network needs root (run with sudo)')
        self.plan = plan or current_plan()
        if topo is not None:
            check_topology(topo, self.plan)
        self.seed = seed
        self.early_release_us = round(probe().timer_late_us.get('median', 100) + 60)
        self.run = run or Run(label)
        self._own_run = run is None
        self._delay_node = None
        self._delay_links = 0
        self._bridges_before = _existing_bridges()
        self.link_stats = {}
        self._stopped = False
        self.router_status = None
        self.routed = controller == 'router'
        controller_cls = None
        if controller:
            apps = [ROUTER_APP] if controller == 'router' else (
                [controller] if isinstance(controller, str) else list(controller))
            controller_cls = functools.partial(RyuController, run=self.run, apps=apps, env={
                'TESTBED_PLAN': self.run.path('plan.json'), 'TESTBED_ALGORITHM': algorithm,
                'TESTBED_METRIC': metric, **({'TESTBED_ADMISSION': os.path.abspath(admission)} if admission else {})})
        self.algorithm, self.metric = algorithm, metric
        switch = functools.partial(
            TestbedSwitch, run_id=self.run.id,
            datapath='user' if self.plan.datapath == 'userspace' else 'kernel',
            failMode='secure' if controller else 'standalone')
        kwargs.setdefault('autoSetMacs', True)
        try:
            super().__init__(topo=topo, switch=switch, host=Host, link=ShapedLink, controller=controller_cls,
                             build=False, cleanup=False, **kwargs)
            if topo is not None:
                self.build()
        except BaseException:
            self.stop()
            raise

    # -- nodes ------------------------------------------------------------------------------------------------
    def addHost(self, name, cls=None, **params):  # Mininet's API name
        host = super().addHost(name, cls=cls, **params)
        self.run.record_process(host.pid, f'host {name}')
        return host

    def addSwitch(self, name, cls=None, **params):  # Mininet's API name
        if name in self._bridges_before:
            raise TestbedError(f'switch {name}: an Open vSwitch bridge named {name!r} already exists and is not '
                               f'this run\'s; rename the switch or remove that bridge yourself')
        if 'dpid' not in params and not any(ch.isdigit() for ch in name):
            params['dpid'] = '%016x' % (len(self.switches) + 1)
        switch = super().addSwitch(name, cls=cls, **params)
        self.run.record_process(switch.pid, f'switch {name}')
        self.run.record_bridge(name)
        return switch

    def addController(self, name='c0', controller=None, **params):  # Mininet's API name
        added = super().addController(name, controller, **params)
        self.run.record_process(added.pid, f'controller shell {added.name}')
        return added

    def delay_node(self):
        """The namespace that holds the delay lines' veth ends (created on first use)."""
        if self._delay_node is None:
            self._delay_node = Node(DELAY_NODE_NAME, inNamespace=True)
            self.run.record_process(self._delay_node.pid, 'delay namespace')
            # No IPv6 link-local chatter (RS, MLD, DAD) may leak from the inner ends into the links.
            self._delay_node.cmd('sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1')
            self._delay_node.cmd('ip link set lo up')
        return self._delay_node

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
                if os.path.exists(f'/sys/class/net/{intf}'):
                    raise TestbedError(f'{where}: interface {intf} already exists in the root namespace (another '
                                       f'network running?); stop it or rename the node')
        if cls is None and self.plan.delay == 'userspace' and shaping.needs_delay:
            cls = functools.partial(DelayLineLink, delay_node=self.delay_node(), index=self._delay_links)
            self._delay_links += 1
        link = super().addLink(node1, node2, port1, port2, cls=cls, shaping=shaping, **params)
        for intf in (link.intf1, link.intf2):
            if not intf.node.inNamespace:
                self.run.record_link(intf.name)
        return link

    # -- life cycle -------------------------------------------------------------------------------------------
    def build(self):
        super().build()
        seen = {}
        for switch in self.switches:
            if switch.dpid in seen:
                raise TestbedError(f'switches {seen[switch.dpid]} and {switch.name} have the same datapath id '
                                   f'{switch.dpid} (give one of them dpid=...)')
            seen[switch.dpid] = switch.name
        for node in self.hosts + ([self._delay_node] if self._delay_node else []):
            interfaces = node.intfNames() if node is not self._delay_node else [
                end for link in self.links if isinstance(link, DelayLineLink) for end in (link.end_a, link.end_b)]
            self.run.record_netns(node.pid, interfaces, f'namespace of {node.name}')

    def start(self):
        if self.controllers:
            with open(self.run.path('plan.json'), 'w') as handle:
                json.dump(build_plan(self, self.algorithm, self.metric), handle, indent=1)
        super().start()
        for link in self.links:
            link.start_data_plane(self)
            link.apply_shaping()
        if self.routed:
            self.router_status = self.controllers[0].wait_ready()
        if self.plan.datapath == 'userspace':  # the checksum-offload trap: only on ports of userspace switches
            switches = set(self.switches)
            for host in self.hosts:
                for intf in host.intfList():
                    link = intf.link
                    peer = link and (link.intf2 if link.intf1 is intf else link.intf1)
                    if peer is not None and peer.node in switches:
                        host.cmd(f'ethtool -K {intf.name} tx off 2>/dev/null')
        for host in self.hosts:
            if hasattr(host, 'start_services'):
                host.start_services(self)
        tunnels = {host.name: host.tunnel_record() for host in self.hosts if hasattr(host, 'tunnel_record')}
        if tunnels:  # for `testbed sixtofour` in another terminal
            with open(self.run.path('tunnels.json'), 'w') as handle:
                json.dump(tunnels, handle, indent=1)
        wait_for_dad([host for host in self.hosts if host.params.get('ip6') or hasattr(host, 'core_attachments')])

    def stop(self):
        """Stop links' data planes, then Mininet's nodes, then forget the run. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        for host in getattr(self, 'hosts', []):
            if hasattr(host, 'stop_services'):
                host.stop_services()
        for link in list(getattr(self, 'links', [])):
            stats = link.stop_data_plane() if isinstance(link, ShapedLink) else None
            if stats:
                self.link_stats[link.name()] = stats
        try:
            if hasattr(self, 'controllers'):  # Mininet's own __init__ completed
                super().stop()
        finally:
            if self._delay_node is not None:
                self._delay_node.terminate()
                self._delay_node = None
            if self._own_run:
                self.run.close()

    # -- reporting --------------------------------------------------------------------------------------------
    def describe_links(self):
        """(link name, shaping, path) for each link."""
        rows = []
        for link in self.links:
            path = link.delay_path if link.shaping.needs_delay else 'kernel (htb)' if link.shaping.bw else '-'
            rows.append((f'{link.intf1.node.name}-{link.intf2.node.name}', link.shaping.describe(), path))
        return rows



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


class Stopped(Exception):
    """SIGTERM or SIGHUP arrived: unwind so that ``finally`` blocks stop the network."""


def _raise_stopped(signum, _frame):
    raise Stopped(signal.Signals(signum).name)


@contextlib.contextmanager
def stop_on_signals():
    """Turn SIGTERM and SIGHUP into ``Stopped`` (Ctrl-C is already KeyboardInterrupt) for a ``with`` block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
