"""The paper's survey of transition mechanisms, and today's, as data: what each needs, what breaks it, its status.

``testbed list`` prints it; the README walks it in the paper's order. ``topology`` names the network of
``topologies/`` that runs the mechanism (None: not built yet).
"""
from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class Mechanism:
    name: str
    rfc: str
    status: str                  # standard, historic, deprecated ... as of the RFCs that followed
    needs: str                   # global IPv4? multicast? per-peer configuration? state in the network?
    breaks: str                  # what makes it fail
    topology: Optional[str]


SURVEY: Tuple[Mechanism, ...] = (
    Mechanism('dual stack', 'RFC 4213 section 2', 'standard: the baseline',
              'both protocols on every node and link, and IPv4 addresses for all', 'IPv4 exhaustion', 'dual-stack'),
    Mechanism('manually configured tunnel (6in4)', 'RFC 4213 section 3', 'standard',
              'global IPv4 at both ends, configuration per peer, protocol 41 through firewalls',
              'a NAT or a protocol-41 filter on the path; an address change at either end', '6in4'),
    Mechanism('automatic tunnel, IPv4-compatible addresses', 'RFC 2893 section 5.3', 'historic (RFC 4213, '
              'addresses deprecated by RFC 4291)', 'a global IPv4 address per host',
              'it reaches only other such hosts: ::a.b.c.d has no route to native IPv6', 'v4compat'),
    Mechanism('tunnel broker', 'RFC 3053', 'informational; brokers still exist',
              'a broker service and an account; a global IPv4 address (or TSP/AYIYA through NAT)',
              'the broker or its tunnel server going away', 'broker'),
    Mechanism('6to4 with anycast relays', 'RFC 3056, RFC 3068', 'relay anycast deprecated (RFC 7526)',
              'a global IPv4 address on the site router; relays someone else runs',
              'private IPv4 (NAT), broken or far relays, protocol-41 filters', 'sixtofour'),
    Mechanism('6over4', 'RFC 2529', 'historic in practice (no implementations)',
              'IPv4 multicast across the whole site', 'any IPv4 network without multicast routing', '6over4'),
    Mechanism('ISATAP', 'RFC 5214', 'informational; phased out with native IPv6',
              'an ISATAP router and its address in the potential router list; works with private IPv4',
              'a router list that is wrong or empty; one site only (it is one link)', 'isatap'),
    Mechanism('6rd', 'RFC 5969', 'standard (ISPs)', 'an ISP that runs border relays and hands out its 6rd prefix',
              'a 6rd prefix too long for the delegated prefix; CEs without IPv4', '6rd'),
    Mechanism('NAT64 + DNS64', 'RFC 6146, RFC 6147, RFC 6052', 'standard',
              'state per flow in the translator; a DNS64 resolver', 'IPv4 literals and DNSSEC-validating stubs',
              'nat64'),
    Mechanism('464XLAT', 'RFC 6877', 'standard (mobile networks)', 'a CLAT on the host and a NAT64 (PLAT)',
              'a host without a CLAT', 'nat64'),
)
