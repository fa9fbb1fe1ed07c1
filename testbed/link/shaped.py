"""Links with bandwidth, delay, jitter, loss and queue size on either data-plane path.

``ShapedLink`` is a veth pair, like Mininet's Link; its shaping is applied by ``apply_shaping_together()`` (all
links, one tc per namespace) once the network is started, with the tc commands of
``testbed.link.params.tc_commands``, and then read back: a link whose qdiscs are not what was asked for is an error
(Mininet's TCLink would carry on without delay).

``DelayLineLink`` is the userspace path for links that need delay, jitter or loss on a kernel without
sch_netem: each end is a veth pair into the testbed's delay namespace, where a ``testbed.link.delayline`` process
(one per CPU, each serving many links: ``testbed.link.lines``) joins the two inner ends::

    node1 [intf1] ==veth== [dlNa] (delay line process) [dlNb] ==veth== [intf2] node2
                           \\______ delay namespace ______/

A link's interfaces in the root namespace (a switch's ports) are recorded in the run with the index they will get
before they are created, so ``testbed clean`` finds them whenever the run ends. Each direction's shaping can change
at run time through Mininet's own ``intf.config(bw=..., delay=..., jitter=..., loss=..., max_queue_size=...)``: the
parameters given change for the traffic leaving that interface, the others stay (``ShapedLink.reshape``).
"""
import dataclasses
import json
import subprocess

from mininet.link import Intf, Link

from testbed.errors import TestbedError
from testbed.link.params import SHAPING_KEYS, LinkParams, check_path, delay_line_direction, direction_seeds, \
    line_spec, rate_change_command, tc_commands
from testbed.system.runstate import free_ifindex

MININET_ONLY_TC_KEYS = ('speedup', 'use_hfsc', 'use_tbf', 'latency_ms', 'enable_ecn', 'enable_red')


class TestbedIntf(Intf):
    """Mininet's Intf, whose ``config`` also takes the shaping parameters of Mininet's TCIntf and applies them to
    the direction leaving this interface, with the testbed's semantics, on either data-plane path."""

    __test__ = False

    def config(self, **params):  # Mininet's API name
        shaping = {key: params.pop(key) for key in SHAPING_KEYS if params.get(key) is not None}
        unsupported = sorted(key for key in MININET_ONLY_TC_KEYS if params.pop(key, None) not in (None, False))
        if unsupported:
            raise TestbedError(f'{self.name}: Mininet\'s tc option {unsupported[0]!r} is not supported by testbed '
                               f'links (they take: {", ".join(SHAPING_KEYS)})')
        result = super().config(**params)
        if shaping:
            self.link.reshape(self, **shaping)
        return result


class ShapedLink(Link):
    """A veth link whose two egress directions are shaped with the same ``LinkParams``."""

    delay_path = 'kernel'  # where delay/jitter/loss happen for this link class

    def __init__(self, node1, node2, shaping=None, run=None, delay_plan='kernel', **kwargs):
        """``run``: where root-namespace interfaces are recorded before they exist; ``delay_plan``: the run's path
        for delay (a link built without a delay line on the userspace path cannot get a delay later)."""
        self.shaping = shaping or LinkParams()
        self.run = run
        self.delay_plan = delay_plan
        if kwargs.get('intf') in (None, Intf):  # Mininet.addLink passes its default Intf
            kwargs['intf'] = TestbedIntf
        super().__init__(node1, node2, **kwargs)
        self.egress = {self.intf1.name: self.shaping, self.intf2.name: self.shaping}

    def name(self):
        return f'{self.intf1.node.name}-{self.intf2.node.name}'

    # -- deleting the interfaces ------------------------------------------------------------------------------
    def deletion_ends(self):
        """[(node, interface)] whose deletion takes the whole link with it (a veth goes with its peer): an end in
        the root namespace if there is one, so that one command there can delete many links."""
        return [(self.intf2.node, self.intf2.name) if self.intf1.node.inNamespace and not
                self.intf2.node.inNamespace else (self.intf1.node, self.intf1.name)]

    def forget(self):
        """The interfaces were deleted together with others' (``TestbedNet.stop``): let Mininet's ``stop`` skip
        its command per interface."""
        self.deleted_together = True

    def delete(self):  # Mininet's API: called by link.stop()
        if not getattr(self, 'deleted_together', False):
            super().delete()
            return
        for intf in (self.intf1, self.intf2):
            intf.node.delIntf(intf)
            intf.link = None
        self.intf1 = self.intf2 = None

    # -- creating the interfaces ------------------------------------------------------------------------------
    def makeIntfPair(self, intfname1, intfname2, addr1=None, addr2=None, node1=None, node2=None,
                     deleteIntfs=True):  # Mininet's hook for how a link's interfaces are made
        del deleteIntfs  # never delete an interface by name: the names were checked free, and one may be foreign
        self.make_veth(node1, intfname1, addr1, intfname2, addr2, node2)

    def make_veth(self, node, name, addr, peer, peer_addr, peer_node):
        """Create veth ``name`` in ``node`` with its peer ``peer`` in ``peer_node``'s namespace. An end in the
        root namespace is recorded (its name and the index it is created with) before it exists."""
        ends = [(node, name, addr), (peer_node, peer, peer_addr)]
        if node.inNamespace and not peer_node.inNamespace:
            ends.reverse()  # ip honours a peer's index only when the first end has one too: root end first
        (first_node, *_), (second_node, *_) = ends
        for attempt in range(3):  # an index can be taken between choosing and creating it; choose again
            words, chosen = [], []
            for end_node, end, end_addr in ends:
                options = [f'name {end}'] + ([f'address {end_addr}'] if end_addr else [])
                if self.run is not None and not end_node.inNamespace:
                    index = free_ifindex()
                    chosen.append(index)
                    self.run.record_link(end, index)
                    options.append(f'index {index}')
                words.append(' '.join(options))
            output = first_node.cmd(f'ip link add {words[0]} type veth peer {words[1]} netns {second_node.pid} '
                                    f'2>&1').strip()
            if not output:
                return
            if 'exists' not in output or attempt == 2 or not chosen:
                break
        raise TestbedError(f'link {node.name}-{peer_node.name}: cannot create {name}: {output}')

    # -- shaping ----------------------------------------------------------------------------------------------
    def _install(self, intf, params):
        install_qdiscs(intf, params, self.delay_path, f'link {self.name()}')

    def missing_qdiscs(self, params, shown):
        return missing_qdiscs(params, self.delay_path, shown)

    def reshape(self, intf, **options):
        """Change the shaping of the direction leaving ``intf`` while the network runs (what Mininet's
        ``intf.config(bw=..., delay=...)`` does): the options given change, the others stay. Packets queued at
        that end are dropped, as when Mininet reconfigures a TCIntf."""
        where = f'link {self.name()}, direction leaving {intf.name}'
        params = self.egress[intf.name].changed(options, where)
        check_path(params, self.delay_plan, where)
        if params.needs_delay and self.delay_plan == 'userspace' and self.delay_path != 'userspace':
            raise TestbedError(f'{where}: this link has no delay line (it was built without delay, jitter or loss on '
                               f'a kernel without sch_netem), so delay, jitter, loss and serialisation cannot be added '
                               f'while it runs; give the link one of them when you build it')
        self._install(intf, params)
        self._retime(intf, params)
        self.egress[intf.name] = params
        if self.egress[self.intf1.name] == self.egress[self.intf2.name]:
            self.shaping = params

    def _retime(self, intf, params):
        """Delay, jitter, loss and serialisation of a direction live in tc on this path: nothing more to do."""

    def describe(self):
        """The shaping in words: one description, or one per direction once they differ."""
        first, second = (self.egress[intf.name] for intf in (self.intf1, self.intf2))
        if first == second:
            return first.describe()
        a, b = self.intf1.node.name, self.intf2.node.name
        return f'{a}->{b}: {first.describe()}; {b}->{a}: {second.describe()}'

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
        self.egress = {name: dataclasses.replace(params, bw=float(bw)) for name, params in self.egress.items()}

    def cut(self):
        """Fail the link silently, both ways: every frame is lost, yet both ports stay up (a cut fibre that
        only a missing keepalive, such as LLDP, reveals)."""
        for intf in (self.intf1, self.intf2):
            intf.node.cmd(f'tc qdisc replace dev {intf.name} root netem loss 100%')


class DelayLineLink(ShapedLink):
    """A link whose delay, jitter and loss come from a userspace delay line (no sch_netem needed), served by one of
    its network's delay-line processes (``lines``, a ``testbed.link.lines.DelayLines``)."""

    delay_path = 'userspace'

    def __init__(self, node1, node2, delay_node, index, lines, **kwargs):
        self.delay_node = delay_node
        self.key = f'dl{index}'
        self.end_a, self.end_b = f'{self.key}a', f'{self.key}b'
        self.lines = lines
        self.seeds = {}
        super().__init__(node1, node2, **kwargs)
        lines.add(self)

    def makeIntfPair(self, intfname1, intfname2, addr1=None, addr2=None, node1=None, node2=None,
                     deleteIntfs=True):  # Mininet's hook for how a link's interfaces are made
        del deleteIntfs
        for node, intf, addr, end in ((node1, intfname1, addr1, self.end_a), (node2, intfname2, addr2, self.end_b)):
            self.make_veth(node, intf, addr, end, None, self.delay_node)   # set up with the others' (DelayLines)

    def deletion_ends(self):
        """The delay namespace's ends of both veth pairs: each takes a node's end with it."""
        return [(self.delay_node, self.end_a), (self.delay_node, self.end_b)]

    def line_spec(self, seed):
        """What the delay line process needs for this link (``seed``: the network's; each direction gets its own)."""
        seeds = direction_seeds(seed, int(self.key[2:]))
        self.seeds = {self.intf1.name: seeds[0], self.intf2.name: seeds[1]}
        return line_spec(self.key, (self.end_a, self.end_b), self.egress[self.intf1.name],
                         self.egress[self.intf2.name], seeds)

    def _retime(self, intf, params):
        """Hand the delay line the new delay, jitter, loss and rate of one direction and wait until it holds them."""
        direction = 'a_to_b' if intf is self.intf1 else 'b_to_a'
        self.lines.retime(self, {direction: delay_line_direction(params, self.seeds[intf.name])})

    def cut(self):
        """Fail the link silently: its delay line loses every frame both ways while both ports stay up."""
        self.lines.retime(self, {direction: {**delay_line_direction(self.egress[intf.name], self.seeds[intf.name]),
                                             'loss': 1.0}
                                 for direction, intf in (('a_to_b', self.intf1), ('b_to_a', self.intf2))})


def missing_qdiscs(params, delay_path, shown):
    """The kinds of qdisc that ``shown`` (``tc qdisc show`` of one interface) lacks for ``params``."""
    wanted = ['htb'] if params.bw else []
    if delay_path == 'kernel' and params.needs_delay:
        wanted.append('netem')
    return [kind for kind in wanted if f'qdisc {kind}' not in shown]


def install_qdiscs(intf, params, delay_path, where):
    """Install the qdiscs of one end (replacing what it has), through the interface's node (here or on a server),
    and check that the kernel holds them."""
    intf.node.cmd(f'tc qdisc del dev {intf.name} root 2>/dev/null')
    for cmd in tc_commands(intf.name, params, delay_path):
        output = intf.node.cmd(cmd + ' 2>&1; echo "exit=$?"').strip().splitlines()
        if not output or output[-1] != 'exit=0':
            raise TestbedError(f'{where}: "{cmd}" failed: {(output or ["?"])[0]}')
    missing = missing_qdiscs(params, delay_path, intf.node.cmd(f'tc qdisc show dev {intf.name}'))
    if missing:
        raise TestbedError(f'{where}: {intf.name} lacks the {"/".join(missing)} qdisc after configuration; '
                           f'refusing to run with wrong links')


def apply_shaping_together(links):
    """Install every link end's qdiscs with one ``tc -batch`` per namespace, and read them back with one ``tc qdisc
    show`` per namespace (a tc command through a node's shell costs ~12 ms: 5 s of a 100-switch network's start).
    An end whose qdiscs are not all there is installed again on its own, which names the command that fails."""
    groups = {}
    for link in links:
        if not isinstance(link, ShapedLink):
            continue
        for intf in (link.intf1, link.intf2):
            cmds = tc_commands(intf.name, link.egress[intf.name], link.delay_path)
            if cmds:
                node, ends = groups.setdefault(intf.node if intf.node.inNamespace else None, (intf.node, []))
                ends.append((link, intf, cmds))
    for namespace, (node, ends) in groups.items():
        script = ''.join(cmd[len('tc '):] + '\n' for _, _, cmds in ends for cmd in cmds)
        _run_in(namespace, ['tc', '-force', '-batch', '-'], script)
        shown = _per_device(_run_in(namespace, ['tc', 'qdisc', 'show']))
        for link, intf, _ in ends:
            params = link.egress[intf.name]
            if link.missing_qdiscs(params, shown.get(intf.name, '')):
                link._install(intf, params)


def _run_in(node, command, stdin=''):
    """Run ``command`` in ``node``'s namespace (None: the root's); its output."""
    kwargs = {'stdin': subprocess.PIPE, 'stdout': subprocess.PIPE, 'stderr': subprocess.DEVNULL}
    process = node.popen(command, **kwargs) if node is not None else subprocess.Popen(command, **kwargs)
    return process.communicate(stdin.encode())[0].decode()


def _per_device(shown):
    """``tc qdisc show`` output split by device: {device: its lines}."""
    devices = {}
    for line in shown.splitlines():
        words = line.split()
        if 'dev' in words:
            device = words[words.index('dev') + 1]
            devices[device] = devices.get(device, '') + line + '\n'
    return devices


FIRST_DELETION_GROUP = 0x7e57


def unused_link_group(shown: str) -> int:
    """A link group no interface of ``ip -j link show`` (its output) is in: the first free from 0x7e57 up."""
    try:
        taken = {str(intf.get('group')) for intf in json.loads(shown)}
    except ValueError:
        taken = set()
    group = FIRST_DELETION_GROUP
    while str(group) in taken:
        group += 1
    return group


def delete_links_together(links):
    """Delete the links' veths with one ``ip -batch`` per namespace: each end is put in a link group no other
    interface there is in, and the group is deleted at once. The kernel then waits for its readers once for
    them all, not once per veth (200 veths: 3.2 s one by one, 0.08 s as a group, measured here)."""
    batches = {}
    for link in links:
        if isinstance(link, ShapedLink) and link.intf1 is not None:
            for node, name in link.deletion_ends():
                batches.setdefault(node if node.inNamespace else None, []).append(name)   # None: the root's
            link.forget()
    for node, names in batches.items():
        group = unused_link_group(_run_in(node, ['ip', '-j', 'link', 'show']))
        script = ''.join(f'link set dev {name} group {group}\n' for name in names) + f'link del group {group}\n'
        _run_in(node, ['ip', '-force', '-batch', '-'], script)
