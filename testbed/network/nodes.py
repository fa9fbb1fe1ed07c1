"""Node types shared by topologies: a routed host (IPv4 and/or IPv6, default routes via its gateways).

Mininet's Host configures one IPv4 address; the routed core needs hosts that also (or only: pass ``ip=None``)
carry an IPv6 address and send everything off-subnet to the gateway the controller (or a site router) answers for.
IPv6 addresses are added with ``nodad`` so the network is usable at once (duplicate address detection cannot find a
duplicate in a plan of unique addresses). ``dns=ADDRESS`` gives the host its own resolver configuration: a file in
the run folder bind-mounted over /etc/resolv.conf inside the host's private mount namespace, so ``ping6 b`` resolves
through the testbed's DNS server while the machine's own resolver configuration is untouched.
"""
from mininet.node import Host

from testbed.errors import TestbedError

DNS_DOMAIN = 'sixtofour.test'   # RFC 6761 reserves .test


def configure(node, cmd: str) -> None:
    """Run a configuration command in ``node``; raise with its output if it fails."""
    output = node.cmd(f'{cmd} 2>&1; echo "exit=$?"').strip().splitlines()
    if not output or output[-1] != 'exit=0':
        raise TestbedError(f'{node.name}: "{cmd}" failed: {" ".join(output[:-1]) or "?"}')


class RoutedHost(Host):
    """A host with optional ``ip6`` (``'2001:db8:1::10/64'``), ``gateway6``, ``defaultRoute='via A.B.C.D'`` and
    ``dns`` (the IPv6 or IPv4 address of its name server)."""

    def config(self, ip6=None, gateway6=None, **params):
        result = super().config(**params)
        intf = self.defaultIntf()
        if ip6 and intf:
            self.cmd(f'ip -6 addr add {ip6} dev {intf} nodad')
        if gateway6 and intf:
            self.cmd(f'ip -6 route add default via {gateway6} dev {intf}')
        return result

    services_across_servers = True   # its file through net.file_for: a cluster run may place it on a server

    def start_services(self, net):
        server = self.params.get('dns')
        if server:
            path = net.file_for(self, f'resolv-{self.name}.conf',
                                f'nameserver {server}\nsearch {DNS_DOMAIN}\noptions timeout:1 attempts:3\n')
            self.cmd(f'mount --bind {path} /etc/resolv.conf')
