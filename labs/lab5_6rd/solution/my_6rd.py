"""Lab 5 - reference solution (keep it from students). Reads the ISP's parameters from params.json next to it."""
import ipaddress
import json
import os

BR = '10.64.0.1'
COMMON_V4 = '10.64.0.0'


def delegated_prefix(sixrd_prefix, v4_common, ce_v4):
    prefix = ipaddress.IPv6Network(sixrd_prefix)
    bits = 32 - v4_common
    length = prefix.prefixlen + bits
    suffix = int(ipaddress.IPv4Address(ce_v4)) & ((1 << bits) - 1)
    return str(ipaddress.IPv6Network((int(prefix.network_address) | (suffix << (128 - length)), length)))


def tunnel_destination(ipv6_destination, sixrd_prefix, v4_common):
    prefix = ipaddress.IPv6Network(sixrd_prefix)
    address = ipaddress.IPv6Address(ipv6_destination)
    if address not in prefix:
        return BR
    bits = 32 - v4_common
    suffix = (int(address) >> (128 - prefix.prefixlen - bits)) & ((1 << bits) - 1)
    common = int(ipaddress.IPv4Address(COMMON_V4)) & ~((1 << bits) - 1) & 0xffffffff
    return str(ipaddress.IPv4Address(common | suffix))


def configure(sixrd_prefix, v4_common, ce_v4='10.64.1.1'):
    """ce1's configuration under the ISP's parameters."""
    delegated = ipaddress.IPv6Network(delegated_prefix(sixrd_prefix, v4_common, ce_v4))
    lan = ipaddress.IPv6Network((int(delegated.network_address) | (1 << 64), 64))
    return {'delegated_prefix': str(delegated), 'lan_prefix': str(lan),
            'router_address': str(lan.network_address + 1), 'host_address': str(lan.network_address + 0x10),
            'tunnel_address': f'{delegated.network_address + 1}/{ipaddress.IPv6Network(sixrd_prefix).prefixlen}',
            'default_via': f'::{BR}'}


_PARAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'params.json')
if os.path.exists(_PARAMS):
    _ISP = json.load(open(_PARAMS))['params']
    CE = configure(_ISP['prefix'], _ISP['v4_common'])
else:
    CE = None
