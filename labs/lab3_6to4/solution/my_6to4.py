"""Lab 3 - reference solution (kept apart from the starter). ROUTER is computed from the student's own
params.json (in the working folder), as a student may do too."""
import ipaddress
import json
import os

RELAY_ANYCAST = '192.88.99.1'


def site_prefix(v4):
    value = int(ipaddress.IPv4Address(v4))
    return str(ipaddress.IPv6Network(((0x2002 << 112) | (value << 80), 48)))


def tunnel_destination(ipv6_destination):
    address = ipaddress.IPv6Address(ipv6_destination)
    if address in ipaddress.IPv6Network('2002::/16'):
        return str(ipaddress.IPv4Address((int(address) >> 80) & 0xffffffff))
    return RELAY_ANYCAST


def accept_from_tunnel(outer_source_v4, inner_source_v6):
    address = ipaddress.IPv6Address(inner_source_v6)
    if address in ipaddress.IPv6Network('2002::/16'):
        return tunnel_destination(inner_source_v6) == str(ipaddress.IPv4Address(outer_source_v4))
    return str(ipaddress.IPv4Address(outer_source_v4)) == RELAY_ANYCAST


def configure(v4):
    """The router's configuration for IPv4 address ``v4``."""
    site = ipaddress.IPv6Network(site_prefix(v4))
    lan = ipaddress.IPv6Network((int(site.network_address) | (1 << 64), 64))
    return {'lan_prefix': str(lan), 'router_address': str(lan.network_address + 1),
            'host_address': str(lan.network_address + 0x10), 'tunnel_mtu': 1480,
            'default_via': str(ipaddress.IPv6Network(site_prefix(RELAY_ANYCAST)).network_address + 1)}


_PARAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'params.json')
ROUTER = configure(json.load(open(_PARAMS))['params']['r1']) if os.path.exists(_PARAMS) else None
