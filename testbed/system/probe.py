"""Capability probe: what this kernel and machine offer, and which data-plane path the testbed will use.

Each kernel feature is tried for real inside a throwaway network namespace (``unshare --net``), which vanishes
with the probing process, so the probe leaves nothing behind. Without root only static hints are read
(/proc/config.gz, modules lists). The choice between the kernel path and the userspace fallback is made here,
per feature, and can be forced with the ``TESTBED_PATH`` environment variable (see ``parse_path_request``).
"""
import functools
import gzip
import importlib.util
import json
import os
import platform
import re
import select
import shutil
import socket
import statistics
import struct
import subprocess
import time
from dataclasses import dataclass, field, asdict

from testbed.errors import CapabilityError, TestbedError

FEATURES = ('delay', 'tunnel', 'datapath')   # what has a kernel path and a userspace fallback
PATHS = ('kernel', 'userspace')
FEATURE_NEEDS = {'delay': 'sch_netem', 'tunnel': 'sit', 'datapath': 'openvswitch'}
FEATURE_FALLBACK = {
    'delay': 'userspace delay lines (AF_PACKET, one event loop per CPU for all links)',
    'tunnel': 'userspace 6to4 encapsulator (TUN + raw IPv4 socket, protocol 41)',
    'datapath': 'OVS userspace datapath (datapath_type=netdev)',
}


@dataclass
class Finding:
    """One probed capability."""

    name: str
    found: bool
    detail: str


@dataclass
class Capabilities:
    """Everything the probe learned about this machine."""

    root: bool
    kernel: str
    cpus: int
    checks: dict = field(default_factory=dict)          # name -> Finding
    timer_late_us: dict = field(default_factory=dict)   # median/p99 lateness of a 1 ms select()

    def has(self, name):
        check = self.checks.get(name)
        return bool(check and check.found)

    def as_dict(self):
        data = asdict(self)
        data['checks'] = {name: asdict(check) for name, check in self.checks.items()}
        return data


@dataclass(frozen=True)
class PathPlan:
    """Which path each feature uses, and why."""

    delay: str
    tunnel: str
    datapath: str
    reasons: tuple = ()

    def path(self, feature):
        return getattr(self, feature)

    def reason(self, feature):
        return dict(self.reasons).get(feature, '')

    def as_dict(self):
        return {feature: {'path': self.path(feature), 'why': self.reason(feature)} for feature in FEATURES}


def _run(cmd, timeout=10):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def _in_throwaway_netns(script):
    """Run a shell script in a new network namespace that disappears when it exits."""
    if not shutil.which('unshare'):
        return 127, 'unshare not found'
    return _run(['unshare', '--net', 'sh', '-c', 'ip link set lo up; ' + script])


def _first_line(text):
    """The first line of a command's output, without an OVS log prefix (``time|seq|module|LEVEL|``)."""
    line = text.splitlines()[0] if text else ''
    return re.sub(r'^\S+\|\d+\|\w+\|\w+\|', '', line)


def _kernel_config():
    try:
        with gzip.open('/proc/config.gz', 'rt') as handle:
            return handle.read()
    except OSError:
        path = f'/boot/config-{platform.release()}'
        try:
            with open(path) as handle:
                return handle.read()
        except OSError:
            return ''


def _static_module_check(module, config_symbol):
    """Without root: is the module built in, or loadable?"""
    config = _kernel_config()
    if f'{config_symbol}=y' in config:
        return Finding(module, True, 'built into the kernel (config)')
    if f'{config_symbol}=m' in config:
        if os.path.exists('/sys/module/module') or os.path.exists(f'/lib/modules/{platform.release()}'):
            return Finding(module, True, 'loadable module (config); not tried without root')
        return Finding(module, False, 'a module, but this kernel cannot load modules')
    if config:
        return Finding(module, False, f'{config_symbol} is not set in the kernel config')
    return Finding(module, False, 'unknown without root (no kernel config to read)')


def probe_netem():
    code, out = _in_throwaway_netns('tc qdisc add dev lo root netem delay 1ms')
    if code == 0:
        return Finding('sch_netem', True, 'tc netem qdisc accepted')
    return Finding('sch_netem', False, f'tc netem failed: {_first_line(out)}')


def probe_htb():
    code, out = _in_throwaway_netns('tc qdisc add dev lo root handle 5: htb default 1 && '
                                    'tc class add dev lo parent 5: classid 5:1 htb rate 10mbit')
    if code == 0:
        return Finding('sch_htb', True, 'tc htb qdisc accepted')
    return Finding('sch_htb', False, f'tc htb failed: {_first_line(out)}')


def probe_sit():
    code, out = _in_throwaway_netns('ip tunnel add tbprobe mode sit remote any local 192.0.2.1 ttl 64')
    if code == 0:
        return Finding('sit', True, 'sit tunnel (mode sit remote any) created')
    return Finding('sit', False, f'sit tunnel failed: {_first_line(out) or "no sit support"}')


def probe_ovs_kernel():
    if not shutil.which('ovs-dpctl'):
        return Finding('openvswitch', False, 'Open vSwitch is not installed (run make setup)')
    if shutil.which('modprobe') and not os.path.exists('/sys/module/openvswitch'):
        _run(['modprobe', '-q', 'openvswitch'])
    code, out = _run(['ovs-dpctl', 'dump-dps'])
    if code == 0:
        return Finding('openvswitch', True, 'OVS kernel datapath available (genetlink family present)')
    return Finding('openvswitch', False, f'no OVS kernel datapath: {_first_line(out)}')


def probe_tun():
    if not os.path.exists('/dev/net/tun'):
        return Finding('tun', False, '/dev/net/tun does not exist')
    code, out = _in_throwaway_netns('ip tuntap add dev tbprobe mode tun')
    if code == 0:
        return Finding('tun', True, 'TUN device created')
    return Finding('tun', False, f'TUN failed: {_first_line(out)}')


def probe_veth_offload():
    code, out = _in_throwaway_netns('ip link add tbpa type veth peer name tbpb && ethtool -k tbpa')
    if code != 0:
        return Finding('veth_tx_offload', False, f'could not read veth offloads: {_first_line(out)}')
    settings = dict(line.strip().split(': ', 1) for line in out.splitlines() if ': ' in line)
    tx = settings.get('tx-checksumming', '?')
    gso = settings.get('generic-segmentation-offload', '?')
    return Finding('veth_tx_offload', tx.startswith('on'),
                 f'veth defaults: tx-checksumming {tx}, gso {gso} (turned off on node interfaces when the '
                 f'OVS datapath is userspace)')


def probe_ipv6():
    try:
        with open('/proc/sys/net/ipv6/conf/all/disable_ipv6') as handle:
            disabled_all = handle.read().strip() == '1'
        with open('/proc/sys/net/ipv6/conf/default/disable_ipv6') as handle:
            disabled_default = handle.read().strip() == '1'
    except OSError:
        return Finding('ipv6', False, 'no IPv6 in this kernel (/proc/sys/net/ipv6 missing)')
    if disabled_all or disabled_default:
        return Finding('ipv6', False, 'IPv6 disabled by sysctl net.ipv6.conf.{all,default}.disable_ipv6 '
                     '(namespaces inherit it)')
    return Finding('ipv6', True, 'IPv6 enabled (sysctls)')


def probe_cpu_emulation():
    """Is the CPU emulated (QEMU TCG)? Then timer-driven packet releases are late by the emulator's latency."""
    try:
        with open('/proc/cpuinfo') as handle:
            models = {line.split(':', 1)[1].strip() for line in handle if line.startswith('model name')}
    except OSError:
        models = set()
    emulated = any('TCG' in model for model in models)
    detail = ', '.join(sorted(models)) or 'unknown CPU'
    return Finding('cpu_emulated', emulated, f'{detail}' + (' (emulated: timers run late)' if emulated else ''))


def measure_timer(samples=200, sleep_s=0.001):
    """How late a ``sleep_s`` select() wakes here, in microseconds (median, 90th and 99th percentile)."""
    late = []
    for _ in range(samples):
        start = time.monotonic()
        select.select([], [], [], sleep_s)
        late.append((time.monotonic() - start - sleep_s) * 1e6)
    late.sort()
    return {'median': round(statistics.median(late), 1), 'p90': round(late[int(0.90 * (len(late) - 1))], 1),
            'p99': round(late[int(0.99 * (len(late) - 1))], 1)}


@functools.lru_cache(maxsize=None)
def timer_lateness_us(sleep_ms):
    """measure_timer for a timer of ``sleep_ms`` (about a second of samples, at least 20), once per length."""
    return measure_timer(samples=max(20, min(200, int(1000 / sleep_ms))), sleep_s=sleep_ms / 1000)


@functools.lru_cache(maxsize=None)
def wakeup_latency_us(idle_ms, samples=20):
    """How long a process blocked in select() for ``idle_ms`` takes to run once a datagram arrives (median, us):
    what a userspace switch (ovs-vswitchd on the netdev datapath) pays for a frame that ends an idle spell.

    A forked child sends its send time after each idle spell; the child only sleeps and sends, then exits."""
    receiver, sender = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    pid = os.fork()
    if pid == 0:
        try:
            receiver.close()
            for _ in range(samples):
                time.sleep(idle_ms / 1000)
                sender.send(struct.pack('d', time.monotonic()))
        finally:
            os._exit(0)
    latencies = []
    try:
        sender.close()
        for _ in range(samples):
            if not select.select([receiver], [], [], 5 + idle_ms / 1000)[0]:
                break
            woke = time.monotonic()
            latencies.append((woke - struct.unpack('d', receiver.recv(8))[0]) * 1e6)
    finally:
        receiver.close()
        os.waitpid(pid, 0)
    return round(statistics.median(latencies), 1) if latencies else 0.0


def tool_checks(root: bool) -> dict:
    """Findings for the programs and Python packages the testbed needs, and whether Open vSwitch answers."""
    checks = {}
    # A normal user's PATH usually lacks the sbin folders, where tc and ethtool live; the testbed runs them as root.
    search = os.pathsep.join([os.environ.get('PATH', os.defpath), '/usr/local/sbin', '/usr/sbin', '/sbin'])
    for tool in ('ovs-vsctl', 'iperf3', 'ethtool', 'tcpdump', 'tc', 'ip'):
        path = shutil.which(tool, path=search)
        checks[tool] = Finding(tool, bool(path), path or 'not found (run make setup)')
    for module in ('mininet', 'ryu', 'scapy', 'networkx'):
        found = importlib.util.find_spec(module) is not None
        checks[module] = Finding(module, found, 'importable' if found else 'not importable (run make setup)')
    if not root:
        checks['ovs_running'] = Finding('ovs_running', False, 'not checked: asking Open vSwitch needs root')
    elif checks['ovs-vsctl'].found:
        code, out = _run([checks['ovs-vsctl'].detail, '--timeout=2', 'show'], timeout=5)
        checks['ovs_running'] = Finding('ovs_running', code == 0,
                                      'ovsdb-server and ovs-vswitchd answer' if code == 0
                                      else f'Open vSwitch not running: {_first_line(out)}')
    return checks


@functools.lru_cache(maxsize=1)
def probe():
    """Probe the machine once per process."""
    root = os.geteuid() == 0
    caps = Capabilities(root=root, kernel=platform.release(), cpus=len(os.sched_getaffinity(0)))
    if root:
        checks = [probe_netem(), probe_htb(), probe_sit(), probe_ovs_kernel(), probe_tun(), probe_veth_offload()]
    else:
        checks = [_static_module_check('sch_netem', 'CONFIG_NET_SCH_NETEM'),
                  _static_module_check('sch_htb', 'CONFIG_NET_SCH_HTB'),
                  _static_module_check('sit', 'CONFIG_IPV6_SIT'),
                  _static_module_check('openvswitch', 'CONFIG_OPENVSWITCH'),
                  _static_module_check('tun', 'CONFIG_TUN')]
    checks.append(probe_ipv6())
    checks.append(probe_cpu_emulation())
    caps.checks = {check.name: check for check in checks}
    caps.checks.update(tool_checks(root))
    caps.timer_late_us = measure_timer()
    return caps


def parse_path_request(text):
    """Parse TESTBED_PATH: ``auto``, ``kernel``, ``userspace`` or ``delay=userspace,datapath=kernel``."""
    text = (text or 'auto').strip().lower()
    if text in ('', 'auto'):
        return {}
    if text in PATHS:
        return {feature: text for feature in FEATURES}
    request = {}
    for item in text.split(','):
        feature, sep, path = item.partition('=')
        feature, path = feature.strip(), path.strip()
        if not sep or feature not in FEATURES or path not in PATHS + ('auto',):
            raise TestbedError(f'TESTBED_PATH item {item!r} is not FEATURE=PATH '
                               f'(features: {", ".join(FEATURES)}; paths: kernel, userspace, auto)')
        if path != 'auto':
            request[feature] = path
    return request


def choose_paths(caps, request=None):
    """Pick kernel or userspace for each feature from the capabilities and a forced request."""
    request = request or {}
    chosen, reasons = {}, []
    for feature in FEATURES:
        module = FEATURE_NEEDS[feature]
        found = caps.has(module)
        wanted = request.get(feature)
        detail = caps.checks[module].detail if module in caps.checks else 'not probed'
        if wanted == 'kernel' and not found:
            raise CapabilityError(f'the kernel path for {feature} was forced but {module} is missing: {detail}')
        if wanted == 'userspace':
            chosen[feature], why = 'userspace', f'forced by TESTBED_PATH ({module} {"found" if found else "missing"})'
        elif found:
            chosen[feature], why = 'kernel', f'{module} found'
        else:
            chosen[feature], why = 'userspace', f'{module} missing: {FEATURE_FALLBACK[feature]}'
        reasons.append((feature, why))
    return PathPlan(reasons=tuple(reasons), **chosen)


def early_release_us() -> int:
    """How early a delay line releases a frame to start with (it learns the rest as it runs): this machine's median
    timer lateness plus 60 us."""
    return round(probe().timer_late_us.get('median', 100) + 60)


def current_plan():
    """The path plan for this process: probe plus the TESTBED_PATH request."""
    return choose_paths(probe(), parse_path_request(os.environ.get('TESTBED_PATH')))


def doctor_report(caps, plan):
    """The doctor table as text."""
    rows = [('feature', 'found', 'detail')]
    order = ['sch_netem', 'sch_htb', 'sit', 'openvswitch', 'tun', 'ipv6', 'veth_tx_offload', 'cpu_emulated',
             'ovs_running',
             'ovs-vsctl', 'iperf3', 'ethtool', 'tcpdump', 'tc', 'ip', 'mininet', 'ryu', 'scapy', 'networkx']
    for name in order:
        if name in caps.checks:
            check = caps.checks[name]
            rows.append((name, 'yes' if check.found else 'NO', check.detail))
    width = max(len(row[0]) for row in rows)
    lines = [f'testbed doctor: kernel {caps.kernel}, {caps.cpus} CPU(s), '
             f'{"root" if caps.root else "not root (kernel features read statically)"}', '']
    lines += [f'  {name:<{width}}  {found:<5}  {detail}' for name, found, detail in rows]
    lines += ['', f'  timer: a 1 ms select() wakes {caps.timer_late_us["median"]:g} us late (median), '
                  f'{caps.timer_late_us["p99"]:g} us (p99)', '', '  data-plane paths:']
    for feature in FEATURES:
        lines.append(f'  {feature:<9} {plan.path(feature):<9}  {plan.reason(feature)}')
    lines.append('  (force with TESTBED_PATH=userspace, =kernel, or e.g. TESTBED_PATH=delay=userspace)')
    return '\n'.join(lines)


def doctor_json(caps, plan):
    return json.dumps({'capabilities': caps.as_dict(), 'paths': plan.as_dict()}, indent=2)
