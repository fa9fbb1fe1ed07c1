"""Pure planning for servers: the fake servers' addresses and files, sshd and ssh client configuration text, and
the doctor's verdicts. Takes data, returns data; touches nothing."""
import ipaddress
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

# The management network of the fake servers: TEST-NET-2 (RFC 5737), documentation only, never routed. Its first
# address sits on a bridge in this machine's root namespace (the "client"); server i gets .(10 + i). The servers
# have no default route, so nothing they send leaves the machine.
MANAGEMENT_NET = ipaddress.ip_network('198.51.100.0/24')
CLIENT_ADDRESS = MANAGEMENT_NET[1]
MAX_FAKE_SERVERS = 8
# What each fake server gets its own copy of (tmpfs in its mount namespace): Open vSwitch's database, sockets and
# logs, sshd's privilege-separation directory, and the testbed's run records.
# sshd's host keys, configuration and the cluster's key (/etc/ssh) too, so ssh from one server to another works as
# it would between real ones.
PRIVATE_DIRS = ('/run/openvswitch', '/etc/openvswitch', '/var/log/openvswitch', '/run/sshd', '/etc/ssh')
# What must be the same version on every server, and how to get there.
VERSIONED = {
    'mininet': ('Mininet', 'install the same Mininet on both (the testbed\'s setup does: sudo make setup)'),
    'ovs': ('Open vSwitch', 'install the same Open vSwitch on both (the testbed\'s setup does: sudo make setup)'),
    'testbed': ('the testbed', 'check out the same testbed at the same path on both and run its setup there (sudo '
                               'make setup): a cluster run starts its agent from that path')}
CLOCK_SKEW_LIMIT_S = 1.0  # tc and the delay lines need no common clock, but logs and one-way probes compare times


@dataclass(frozen=True)
class FakeServer:
    index: int       # 1, 2, ...
    name: str        # tbsrv1: the network namespace's and the root-side interface's stem
    address: str     # its management address, what a cluster run names it by


def fake_servers(count: int) -> List[FakeServer]:
    """The first ``count`` fake servers (1..MAX_FAKE_SERVERS)."""
    if not 1 <= count <= MAX_FAKE_SERVERS:
        raise ValueError(f'{count} fake servers: 1 to {MAX_FAKE_SERVERS} fit this plan')
    return [FakeServer(i, f'tbsrv{i}', str(MANAGEMENT_NET[10 + i])) for i in range(1, count + 1)]


FAKE_SERVER_PATHS = 'userspace'   # see sshd_config
# Where the machine's kernel has them: netem (per interface) and sit (per namespace) can serve several fake servers
# at once; the kernel datapath stays userspace (one openvswitch module for every fake server's vswitchd).
FAKE_SERVER_KERNEL_PATHS = 'delay=auto,tunnel=auto,datapath=userspace'


def sshd_config(server: FakeServer, host_key: str, authorized_keys: str, pid_file: str,
                paths: str = FAKE_SERVER_PATHS) -> str:
    """An sshd configuration for one fake server: root by key only, on its management address, tunnels allowed
    (Mininet's RemoteSSHLink asks for ``-w``), no DNS lookups (the cluster edition's own advice), and the testbed's
    paths (``TESTBED_PATH``) for everything started there: userspace by default, since the fake servers share this
    machine's kernel (a kernel datapath or sit device of one would be every server's)."""
    return '\n'.join([
        f'ListenAddress {server.address}', 'Port 22', f'HostKey {host_key}', f'PidFile {pid_file}',
        f'AuthorizedKeysFile {authorized_keys}', 'PermitRootLogin prohibit-password', 'PasswordAuthentication no',
        'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'UseDNS no', 'PermitTunnel yes',
        f'SetEnv TESTBED_PATH={paths}', 'AcceptEnv TESTBED_*', 'Subsystem sftp internal-sftp', ''])


def ssh_client_config(servers: List[FakeServer], identity: str, known_hosts: str) -> str:
    """The client side (``ssh -F``): the fake servers by address, this key only, their host keys pinned."""
    hosts = ' '.join(server.address for server in servers)
    return '\n'.join([
        f'Host {hosts}', '    User root', f'    IdentityFile {identity}', '    IdentitiesOnly yes',
        f'    UserKnownHostsFile {known_hosts}', '    StrictHostKeyChecking yes', '    BatchMode yes',
        '    ConnectTimeout 5', '    LogLevel ERROR', ''])


def known_hosts(servers: List[FakeServer], host_public_key: str) -> str:
    """known_hosts lines: every fake server shares one host key (they are one machine's test servers)."""
    key = ' '.join(host_public_key.split()[:2])
    return ''.join(f'{server.address} {key}\n' for server in servers)


# -- one-time setup of a server -------------------------------------------------------------------------------

SETUP_MARK = '# added by testbed cluster setup: the cluster edition links servers with ssh -w tunnels'


def permit_tunnel_script(config: str = '/etc/ssh/sshd_config') -> str:
    """A shell script (run as root on a server) that makes sshd permit tunnels: nothing if ``sshd -T`` says it
    does; else ``PermitTunnel yes`` on the configuration's first lines (sshd takes a keyword's first value, so this
    wins over later lines, included files and Match blocks), a syntax check, and a reload. Prints 'already' or 'set'."""
    return '\n'.join([
        'set -e',
        "if sshd -T 2>/dev/null | grep -qix 'permittunnel yes'; then echo already; exit 0; fi",
        f"sed -i '1i {SETUP_MARK}\\nPermitTunnel yes' {config}",
        'sshd -t',
        'kill -HUP "$(cat /run/sshd.pid)" 2>/dev/null || systemctl reload ssh',
        "sshd -T | grep -qix 'permittunnel yes'",
        'echo set', ''])


def sudoers_line(user: str) -> str:
    """What a server's /etc/sudoers.d/ needs for the cluster edition's ``sudo -n`` (the testbed never edits it)."""
    return f'{user} ALL=(ALL) NOPASSWD: ALL'


# -- the doctor's verdicts --------------------------------------------------------------------------------------

def version_of(text: str) -> Optional[str]:
    """The first dotted version in a tool's output ('ovs-vsctl (Open vSwitch) 3.1.0' -> '3.1.0')."""
    found = re.search(r'\d+\.\d+(?:\.\d+)?', text or '')
    return found.group(0) if found else None


def verdicts(local: Dict[str, str], reports: Dict[str, Dict[str, str]]) -> List[Dict[str, object]]:
    """One row per server and check: {'server', 'check', 'ok', 'detail', 'fix'}.

    ``local`` and each of ``reports`` (by server) hold what the doctor read: 'ssh' (empty when ssh in batch mode
    worked, else its error), 'sudo' ('ok' or the error), 'mininet', 'ovs' and 'testbed' (version text), 'tun',
    'clock' (the server's seconds since the epoch) and 'sent'/'received' (ours around the question), as text."""
    rows = []

    def row(server, check, ok, detail, fix=''):
        rows.append({'server': server, 'check': check, 'ok': bool(ok), 'detail': detail, 'fix': '' if ok else fix})

    for server, report in reports.items():
        ssh_error = report.get('ssh', '')
        row(server, 'ssh in batch mode', not ssh_error, ssh_error or 'answered', ssh_fix(server, ssh_error))
        if ssh_error:
            continue
        row(server, 'sudo without a password', report.get('sudo') == 'ok', report.get('sudo', ''),
            'allow the cluster user passwordless sudo on the server (a line in /etc/sudoers.d/)')
        for tool, (what, fix) in VERSIONED.items():
            here, there = version_of(local.get(tool, '')), version_of(report.get(tool, ''))
            row(server, f'{what} version matches', here is not None and here == there,
                f'here {here or "missing"}, there {there or "missing"}', fix)
        row(server, 'tunnels possible (/dev/net/tun)', report.get('tun') == 'yes', report.get('tun', 'no'),
            'load the tun module on the server (modprobe tun): cross-server links need it')
        skew = clock_skew(report.get('clock'), report.get('sent'), report.get('received'))
        row(server, f'clock within {CLOCK_SKEW_LIMIT_S:.0f} s of this one', skew is not None and abs(skew) <=
            CLOCK_SKEW_LIMIT_S, 'unreadable' if skew is None else f'{skew:+.3f} s',
            'synchronise the clocks (systemd-timesyncd or chrony on every server)')
    return rows


def ssh_fix(server: str, error: str) -> str:
    """What to do about ssh's ``error`` toward ``server``."""
    if 'Permission denied' in error:
        return f'give this user a key the server accepts without a password (ssh-copy-id {server})'
    if 'Host key verification failed' in error or 'REMOTE HOST IDENTIFICATION' in error:
        return f'check and accept the server\'s host key once, interactively (ssh {server} true)'
    return f'make the server reachable by ssh from here (its address, its sshd, a firewall): ssh {server} true'


def clock_skew(remote: Optional[str], sent: Optional[str], received: Optional[str]) -> Optional[float]:
    """The server's clock minus ours, taking our clock as the middle of the round trip that read it."""
    if remote is None or sent is None or received is None:
        return None
    try:
        return float(remote) - (float(sent) + float(received)) / 2
    except ValueError:
        return None


# -- where a link's delay happens ----------------------------------------------------------------------------------

def delay_site(servers: Tuple[str, str], delay_paths: Dict[str, str]) -> Optional[str]:
    """The server whose delay line carries both directions of a link with delay, jitter or loss between nodes on
    ``servers`` (its first and second node's), given each server's delay path ('kernel': sch_netem, 'userspace');
    None when both have netem, which then delays each direction at its egress, as on one machine. The first
    node's server is taken when it lacks netem, so links between the same servers share that server's lines."""
    for server in servers:
        if delay_paths.get(server, 'userspace') != 'kernel':
            return server
    return None
