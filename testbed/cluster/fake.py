"""Fake servers on this machine, which a cluster run can reach only the way it reaches real ones.

Each server is a process holding a network namespace and a mount namespace of its own (``unshare``), joined to the
machine's root namespace by a veth on one bridge (the management network, ``testbed.cluster.plan``). Inside it: a
tmpfs over each of ``plan.PRIVATE_DIRS`` and the run root (its own Open vSwitch database, sockets and logs, its own
``/etc/ssh`` and its own run records; the copies of other runs' pinned namespaces are released first), a sysfs of
its own (``/sys/class/net`` lists its interfaces, not the machine's), its own ovsdb-server and ovs-vswitchd, and its
own sshd that takes root by one key made for this cluster. The client's ssh configuration (``ssh -F``) lies in the
run directory; ``environ()`` names it for the testbed (``TESTBED_SSH_CONFIG``). Servers reach each other by ssh the
same way (their own ``/etc/ssh/ssh_config``).

Everything is recorded as it is created (``testbed.system.runstate``): the holders, their pinned namespaces (so
sshd, Open vSwitch and anything else inside end with them), the bridge and the veths. ``stop()`` removes exactly
that, and ``testbed clean`` does after a crash. One fake cluster at a time: its addresses are fixed.
"""
import contextlib
import os
import shutil
import subprocess
import time
from typing import Dict, Iterator, List

from testbed.cluster.plan import (CLIENT_ADDRESS, FAKE_SERVER_PATHS, MANAGEMENT_NET, PRIVATE_DIRS, FakeServer,
                                  fake_servers, known_hosts, ssh_client_config, sshd_config)
from testbed.cluster.remote import SSH_CONFIG_ENV
from testbed.errors import TestbedError
from testbed.system.interrupts import deferred_signals
from testbed.system.runstate import Run, free_ifindex, ifindex, run_root, stop_after_failure

BRIDGE = 'tbcluster0'
TOOLS = ('unshare', 'nsenter', 'sshd', 'ssh', 'ssh-keygen', 'ovsdb-tool', 'ovsdb-server', 'ovs-vsctl', 'ovs-vswitchd')
OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'
READY_TIMEOUT_S = 15.0


def _checked(argv: List[str], what: str, stdin: str = '') -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise TestbedError(f'fake cluster: {what} failed: {detail[0] if detail else f"exit {done.returncode}"}')
    return done.stdout


class FakeCluster:
    """``count`` fake servers; ``start()`` then ``stop()``, or ``with FakeCluster(2) as cluster:``. ``paths``: the
    ``TESTBED_PATH`` of everything started on them (``plan.sshd_config``)."""

    def __init__(self, count: int = 2, paths: str = FAKE_SERVER_PATHS):
        self.paths = paths
        try:
            self.servers = fake_servers(count)
        except ValueError as exc:
            raise TestbedError(f'fake cluster: {exc}') from None
        self.run = None
        self.holders: Dict[str, int] = {}

    # -- the client's view ---------------------------------------------------------------------------------------
    @property
    def addresses(self) -> List[str]:
        return [server.address for server in self.servers]

    def environ(self) -> Dict[str, str]:
        """What a testbed process needs to reach these servers: the ssh configuration to use."""
        return {SSH_CONFIG_ENV: self.run.path('ssh_config')}

    @contextlib.contextmanager
    def reachable(self) -> Iterator['FakeCluster']:
        """This process reaches the servers during the block (``environ()`` set, the previous value back after)."""
        previous = os.environ.get(SSH_CONFIG_ENV)
        os.environ.update(self.environ())
        try:
            yield self
        finally:
            if previous is None:
                os.environ.pop(SSH_CONFIG_ENV, None)
            else:
                os.environ[SSH_CONFIG_ENV] = previous

    # -- start and stop ------------------------------------------------------------------------------------------
    def start(self) -> 'FakeCluster':
        missing = [tool for tool in TOOLS if not shutil.which(tool)]
        if missing:
            raise TestbedError(f'fake cluster: {", ".join(missing)} not installed (sudo make setup installs them)')
        if ifindex(BRIDGE) is not None:
            raise TestbedError(f'fake cluster: one is up already (bridge {BRIDGE}); stop it, or run testbed clean '
                               'if its owner was killed')
        self.run = Run(label='fake-cluster')
        try:
            self._keys()
            self._bridge()
            for server in self.servers:
                self._server(server)
            self._wait_for_ssh()
        except BaseException:
            stop_after_failure(self.stop)
            raise
        return self

    def stop(self) -> None:
        if self.run is None:
            return
        left = self.run.sweep()
        self.run.close(remove=not left)
        self.run = None
        if left:
            raise TestbedError(f'fake cluster: could not remove {", ".join(left)}')

    def __enter__(self) -> 'FakeCluster':
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- the parts -----------------------------------------------------------------------------------------------
    def _keys(self) -> None:
        for name in ('cluster_key', 'host_key'):
            _checked(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', f'testbed {name}', '-f',
                      self.run.path(name)], f'ssh-keygen ({name})')
        with open(self.run.path('known_hosts'), 'w') as handle:
            handle.write(known_hosts(self.servers, self._read('host_key.pub')))
        with open(self.run.path('ssh_config'), 'w') as handle:
            handle.write(ssh_client_config(self.servers, self.run.path('cluster_key'), self.run.path('known_hosts')))

    def _read(self, name: str) -> str:
        with open(self.run.path(name)) as handle:
            return handle.read()

    def _bridge(self) -> None:
        index = free_ifindex()
        with deferred_signals():
            self.run.record_link(BRIDGE, index)
            _checked(['ip', 'link', 'add', BRIDGE, 'index', str(index), 'type', 'bridge'], f'creating {BRIDGE}')
        _checked(['ip', 'addr', 'add', f'{CLIENT_ADDRESS}/{MANAGEMENT_NET.prefixlen}', 'dev', BRIDGE],
                 f'addressing {BRIDGE}')
        _checked(['ip', 'link', 'set', BRIDGE, 'up'], f'bringing {BRIDGE} up')

    def _server(self, server: FakeServer) -> None:
        with deferred_signals():
            holder = subprocess.Popen(['unshare', '--mount', '--net', '--propagation', 'private', '--', 'sleep',
                                       'infinity'], stdin=subprocess.DEVNULL, start_new_session=True)
            self.run.record_process(holder.pid, f'fake server {server.name}')
        self.holders[server.name] = holder.pid
        self._wait_unshared(holder)
        self.run.record_netns(holder.pid, server.name, f'fake server {server.name}')
        index = free_ifindex()
        with deferred_signals():
            self.run.record_link(server.name, index)
            _checked(['ip', 'link', 'add', server.name, 'index', str(index), 'type', 'veth', 'peer', 'name', 'eth0',
                      'netns', str(holder.pid)], f'the veth of {server.name}')
        _checked(['ip', 'link', 'set', server.name, 'master', BRIDGE, 'up'], f'joining {server.name} to {BRIDGE}')
        inside = ['nsenter', '-t', str(holder.pid), '-m', '-n', '--']
        for target in self._copied_pins(holder.pid):
            _checked(inside + ['umount', '--lazy', target], f'{server.name}: releasing its copy of {target}')
        for folder in PRIVATE_DIRS + (run_root(),):
            os.makedirs(folder, exist_ok=True)
            _checked(inside + ['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', folder], f'a private {folder}')
        # its own /sys: a sysfs mounted in its network namespace lists its interfaces, not the machine's
        _checked(inside + ['mount', '-t', 'sysfs', 'sysfs', '/sys'], f'{server.name}: its own /sys')
        for command in (['ip', 'link', 'set', 'lo', 'up'],
                        ['ip', 'addr', 'add', f'{server.address}/{MANAGEMENT_NET.prefixlen}', 'dev', 'eth0'],
                        ['ip', 'link', 'set', 'eth0', 'up']):
            _checked(inside + command, f'{server.name}: {" ".join(command)}')
        files = {'/etc/ssh/ssh_host_ed25519_key': self._read('host_key'),
                 '/etc/ssh/authorized_keys': self._read('cluster_key.pub'),
                 '/etc/ssh/cluster_key': self._read('cluster_key'),
                 '/etc/ssh/ssh_known_hosts': self._read('known_hosts'),
                 '/etc/ssh/ssh_config': ssh_client_config(self.servers, '/etc/ssh/cluster_key',
                                                          '/etc/ssh/ssh_known_hosts'),
                 '/etc/ssh/sshd_config': sshd_config(server, '/etc/ssh/ssh_host_ed25519_key',
                                                     '/etc/ssh/authorized_keys', '/run/sshd.pid', self.paths)}
        for path, text in files.items():
            _checked(inside + ['sh', '-c', 'umask 077; cat > "$1"', 'sh', path], f'{server.name}: writing {path}',
                     stdin=text)
        run = '/run/openvswitch'
        for command in (['ovsdb-tool', 'create', '/etc/openvswitch/conf.db', OVS_SCHEMA],
                        ['ovsdb-server', '/etc/openvswitch/conf.db', f'--remote=punix:{run}/db.sock',
                         f'--pidfile={run}/ovsdb-server.pid', '--detach', '--no-chdir',
                         '--log-file=/var/log/openvswitch/ovsdb-server.log'],
                        ['ovs-vsctl', '--no-wait', 'init'],
                        ['ovs-vswitchd', f'unix:{run}/db.sock', f'--pidfile={run}/ovs-vswitchd.pid', '--detach',
                         '--no-chdir', '--log-file=/var/log/openvswitch/ovs-vswitchd.log'],
                        ['/usr/sbin/sshd', '-f', '/etc/ssh/sshd_config']):
            _checked(inside + command, f'{server.name}: {command[0]}')

    @staticmethod
    def _copied_pins(pid: int) -> List[str]:
        """Mounts under the run root that the server's new mount namespace copied from ours (other runs' pinned
        namespaces, which the copy would keep alive), deepest first."""
        root = run_root().rstrip('/') + '/'
        with open(f'/proc/{pid}/mountinfo') as handle:
            targets = [line.split()[4] for line in handle]
        return sorted((target for target in targets if target.startswith(root)), key=len, reverse=True)

    @staticmethod
    def _wait_unshared(holder: subprocess.Popen) -> None:
        """Until the holder runs in namespaces of its own (``unshare`` enters them, then runs ``sleep``)."""
        mine = os.readlink('/proc/self/ns/net')
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if holder.poll() is not None:
                raise TestbedError(f'fake cluster: unshare exited with {holder.returncode}')
            try:
                if os.readlink(f'/proc/{holder.pid}/ns/net') != mine and \
                        os.path.basename(os.readlink(f'/proc/{holder.pid}/exe')) == 'sleep':
                    return
            except OSError:
                pass
            time.sleep(0.01)
        raise TestbedError(f'fake cluster: no namespaces of its own after {READY_TIMEOUT_S:.0f} s')

    def _wait_for_ssh(self) -> None:
        config = self.run.path('ssh_config')
        for server in self.servers:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while True:
                done = subprocess.run(['ssh', '-F', config, server.address, 'true'], capture_output=True, text=True,
                                      stdin=subprocess.DEVNULL)
                if done.returncode == 0:
                    break
                if time.monotonic() > deadline:
                    raise TestbedError(f'fake cluster: {server.name} does not answer ssh: '
                                       f'{done.stderr.strip()[:200]}')
                time.sleep(0.1)
