"""ISATAP router discovery (RFC 5214 section 8.3) as data: the router's advertisement and a host's reading of one.

An ISATAP link has no multicast, so discovery is unicast both ways: a host sends a Router Solicitation to the
link-local ISATAP address (``fe80::5efe:V4``) of each router in its potential router list (PRL), and the router
answers that host alone (radvd's ``UnicastOnly``, the option its documentation names for ISATAP). The
advertisement carries the link's /64 with the autonomous flag, so the host's kernel forms its global address from
the interface identifier of its link-local address (``prefix::5efe:V4``, the same address RFC 5214 section 6.1
derives) and installs a default route via the router.

``radvd_config`` writes the router's side for radvd (Debian's router advertisement daemon);
``read_advertisement`` reads what ``rdisc6`` (Debian's ndisc6) printed for one solicitation.
"""
import ipaddress
import re
from dataclasses import dataclass
from typing import Iterable, Optional, Tuple

ROUTER_LIFETIME = 9000      # seconds: the largest RFC 4861 (section 6.2.1) allows; the run is shorter
SOLICITATIONS = 3           # per PRL router (RFC 4861 MAX_RTR_SOLICITATIONS)
SOLICIT_WAIT_MS = 1000      # between them: a router that has not answered in a second is not there


@dataclass(frozen=True)
class Advertisement:
    """What one router told a host: who it is, for how long it is a default router, the prefixes and the MTU."""
    router: ipaddress.IPv6Address
    lifetime: int
    prefixes: Tuple[ipaddress.IPv6Network, ...]
    mtu: Optional[int]


def radvd_config(device: str, prefixes: Iterable[str], mtu: int, lifetime: int = ROUTER_LIFETIME) -> str:
    """radvd's configuration for an ISATAP router's interface: solicited advertisements only, unicast to the
    soliciting host, each /64 on-link and autonomous."""
    lines = [f'interface {device} {{', '    AdvSendAdvert on;', '    UnicastOnly on;',
             f'    AdvDefaultLifetime {lifetime};', f'    AdvLinkMTU {mtu};']
    for prefix in prefixes:
        network = ipaddress.IPv6Network(prefix)
        lines.append(f'    prefix {network} {{ AdvOnLink on; AdvAutonomous on; }};')
    return '\n'.join(lines + ['};', ''])


def read_advertisement(rdisc6_output: str) -> Optional[Advertisement]:
    """The advertisement ``rdisc6 -1`` printed, or None when no router answered."""
    router = re.search(r'^\s*from (\S+)', rdisc6_output, re.MULTILINE)
    lifetime = re.search(r'^Router lifetime\s*:\s*(\d+)', rdisc6_output, re.MULTILINE)
    if not (router and lifetime):
        return None
    prefixes = tuple(ipaddress.IPv6Network(match)
                     for match in re.findall(r'^\s*Prefix\s*:\s*(\S+)', rdisc6_output, re.MULTILINE))
    mtu = re.search(r'^\s*MTU\s*:\s*(\d+) bytes', rdisc6_output, re.MULTILINE)
    return Advertisement(ipaddress.IPv6Address(router.group(1).split('%')[0]), int(lifetime.group(1)), prefixes,
                         int(mtu.group(1)) if mtu else None)
