"""Nodes on a server of a cluster run: Mininet's cluster-edition nodes with the testbed's ssh and records.

``ClusterHost`` and ``ClusterSwitch`` are upstream's ``RemoteHost`` and ``RemoteOVSSwitch`` whose every ssh is
recorded in the client's run the moment it exists; ``remote_class`` makes a topology's own node class (a routed
host, the delay namespace) able to live on a server the same way.
"""
import functools
import shlex
from typing import Dict, Optional

from mininet.examples import cluster as upstream
from mininet.node import OVSSwitch

from testbed.cluster.remote import ssh_options
from testbed.errors import TestbedError
from testbed.system.interrupts import deferred_signals
from testbed.system.runstate import RUN_TAG


class _TestbedSsh:
    """The testbed's ssh options on a remote node (upstream's ``sshbase`` is a class attribute without them), and
    every ssh the node starts recorded in ``run`` the moment it exists: ending it ends the node's shell (or command)
    on the server, also when the client was killed before the server's agent had recorded that shell."""

    def __init__(self, *args, run=None, **kwargs):
        self.sshbase = ['ssh', *ssh_options(), '-q', '-tt']
        self.client_run = run
        super().__init__(*args, **kwargs)

    def popen(self, *args, **kwargs):  # Mininet's API name
        """As on one machine: a command given as a list of words reaches the program as those words (upstream
        joins them for the server's shell, which splits them again: a JSON argument fell apart)."""
        if self.isRemote and len(args) == 1 and isinstance(args[0], list):
            args = ([shlex.quote(str(word)) for word in args[0]],)
        return super().popen(*args, **kwargs)

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
            if group[0].isRemote:
                OVSSwitch.batchStartup(group, run=lambda command, shell=True, node=group[0]:
                                       _checked_rcmd(node, command))
            else:   # this machine's switches: Mininet's own way (rcmd here runs without a shell)
                OVSSwitch.batchStartup(group)
        return switches


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
