"""Node types shared by topologies: a routed host (IPv4 and IPv6, default routes via its gateways).

Mininet's Host configures one IPv4 address; the routed core needs hosts that also carry an IPv6 address and send
everything off-subnet to the gateway the controller answers for. IPv6 addresses are added with ``nodad`` so the
network is usable at once (duplicate address detection cannot find a duplicate in a plan of unique addresses).
"""
from mininet.node import Host


class RoutedHost(Host):
    """A host with optional ``ip6`` (``'2001:db8:1::10/64'``) and ``gateway6``; ``defaultRoute='via A.B.C.D'``."""

    def config(self, ip6=None, gateway6=None, **params):
        result = super().config(**params)
        intf = self.defaultIntf()
        if ip6 and intf:
            self.cmd(f'ip -6 addr add {ip6} dev {intf} nodad')
        if gateway6 and intf:
            self.cmd(f'ip -6 route add default via {gateway6} dev {intf}')
        return result
