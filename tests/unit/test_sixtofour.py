"""6to4 addressing (RFC 3056) and the encapsulator's RFC 3964 decisions, on packets built with scapy."""
import ipaddress

import pytest
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6, ICMPv6EchoRequest

from testbed.sixtofour.addressing import (RELAY_ANYCAST, SixToFourError, decapsulate, embedded_v4, encapsulation_target,
                               martian_6to4_prefixes, router_6to4_address, site_key, site_prefix, subnet,
                               tunnel_destination)

R1, R2 = '192.0.2.1', '198.51.100.1'
A, B, C = '2002:c000:201:1::10', '2002:c633:6401:1::10', '2001:db8:c::10'


def test_site_prefix_embeds_the_router_address_as_in_the_paper():
    assert str(site_prefix(R1)) == '2002:c000:201::/48'
    assert str(site_prefix('198.51.100.1/24')) == '2002:c633:6401::/48'
    assert str(subnet(R1, 1)) == '2002:c000:201:1::/64'
    assert str(router_6to4_address(RELAY_ANYCAST)) == '2002:c058:6301::1'  # the relay's 6to4 address (RFC 3068)


def test_embedded_address_and_tunnel_destination():
    assert embedded_v4(B) == ipaddress.IPv4Address(R2)
    assert embedded_v4(C) is None
    assert tunnel_destination(B) == ipaddress.IPv4Address(R2)
    assert tunnel_destination(C) == RELAY_ANYCAST  # native IPv6 goes to the relay


@pytest.mark.parametrize('address, kind', [('10.1.2.3', 'private'), ('172.16.0.1', 'private'),
                                           ('192.168.1.1', 'private'), ('127.0.0.1', 'loopback'),
                                           ('224.0.0.5', 'multicast'), ('255.255.255.255', 'broadcast'),
                                           ('0.0.0.0', 'unspecified'), ('169.254.1.1', 'link-local')])
def test_addresses_that_cannot_form_a_6to4_prefix_are_refused(address, kind):
    with pytest.raises(SixToFourError, match=kind):
        site_prefix(address)


def test_martian_prefixes_cover_the_martian_networks():
    prefixes = martian_6to4_prefixes()
    assert ipaddress.IPv6Network('2002:c0a8::/32') in prefixes          # 192.168.0.0/16
    assert any(ipaddress.IPv6Address('2002:0a01:0203::1') in p for p in prefixes)
    assert not any(ipaddress.IPv6Address(A) in p for p in prefixes)


def datagram(outer_src, outer_dst, inner_src, inner_dst, payload=ICMPv6EchoRequest()):
    return bytes(IP(src=outer_src, dst=outer_dst, proto=41) / IPv6(src=inner_src, dst=inner_dst) / payload)


SITES_R1 = {site_key(R1)}
RELAYS = {RELAY_ANYCAST.packed}


def test_router_accepts_its_peers_and_the_relay():
    inner, reason = decapsulate(datagram(R2, R1, B, A), 'router', SITES_R1, RELAYS)
    assert reason is None and bytes(IPv6(inner))[:40] == inner[:40] and IPv6(inner).dst == A
    assert decapsulate(datagram(str(RELAY_ANYCAST), R1, C, A), 'router', SITES_R1, RELAYS)[1] is None


@pytest.mark.parametrize('outer_src, inner_src, inner_dst, reason', [
    ('203.0.113.9', B, A, 'spoofed'),                     # 6to4 source does not embed the outer source
    (R2, C, A, 'not_from_relay'),                         # native source, not from a relay
    (R2, '2002:0a00:0001::1', A, 'spoofed'),              # embeds another address (checked before martians)
    ('10.0.0.1', '2002:0a00:0001::1', A, 'martian'),      # embeds a private address (the outer source's)
    (R2, B, '2002:7f00:0001::1', 'martian'),              # destination embeds loopback
    (R2, 'fe80::1', A, 'martian'),                        # link-local source over the IPv4 Internet
    (R2, B, '2002:c633:6401:1::99', 'wrong_destination'),  # not this router's site
])
def test_router_drops_what_rfc_3964_says_to_drop(outer_src, inner_src, inner_dst, reason):
    assert decapsulate(datagram(outer_src, R1, inner_src, inner_dst), 'router', SITES_R1, RELAYS) == (None, reason)


def test_relay_serves_6to4_sources_toward_native_destinations_and_itself_only():
    own = {site_key(RELAY_ANYCAST)}
    assert decapsulate(datagram(R1, str(RELAY_ANYCAST), A, C), 'relay', own)[1] is None
    assert decapsulate(datagram(R1, str(RELAY_ANYCAST), A, B), 'relay', own) == (None, 'wrong_destination')
    assert decapsulate(datagram(R1, str(RELAY_ANYCAST), C, C), 'relay', own) == (None, 'spoofed')
    # a ping to the relay's own 6to4 address (2002:c058:6301::1) is for the relay: the kernel path delivers it too
    assert decapsulate(datagram(R1, str(RELAY_ANYCAST), A, '2002:c058:6301::1'), 'relay', own)[1] is None
    assert decapsulate(datagram(R1, str(RELAY_ANYCAST), A, '2002:c058:6301::1'), 'relay') == \
        (None, 'wrong_destination')


@pytest.mark.parametrize('mangle', [
    lambda d: d[:19],                                      # shorter than an IPv4 header
    lambda d: bytes([0x65]) + d[1:],                       # IP version 6 in the outer header
    lambda d: d[:9] + bytes([17]) + d[10:],                # not protocol 41
    lambda d: d[:2] + (len(d) + 7).to_bytes(2, 'big') + d[4:],  # total length lies
    lambda d: d[:20] + bytes([0x45]) + d[21:],             # inner is not IPv6
    lambda d: d[:24] + (999).to_bytes(2, 'big') + d[26:],  # inner payload length lies
    lambda d: d[:50],                                      # truncated inner header
])
def test_malformed_datagrams_are_dropped_as_malformed(mangle):
    good = datagram(R2, R1, B, A)
    assert decapsulate(mangle(good), 'router', SITES_R1, RELAYS) == (None, 'malformed')


def test_encapsulation_targets():
    def inner(dst, src=A):
        return bytes(IPv6(src=src, dst=dst) / ICMPv6EchoRequest())
    assert encapsulation_target(inner(B), 'router') == (ipaddress.IPv4Address(R2).packed, None)
    assert encapsulation_target(inner(C), 'router') == (RELAY_ANYCAST.packed, None)
    assert encapsulation_target(inner(C), 'relay') == (None, 'wrong_destination')
    assert encapsulation_target(inner('2002:c0a8:0101::1'), 'router') == (None, 'martian')
    assert encapsulation_target(inner('ff02::16', 'fe80::1'), 'router') == (None, 'link_scope')
    assert encapsulation_target(b'\x45' + bytes(50), 'router') == (None, 'malformed')


def test_every_fuzzed_datagram_gets_exactly_one_outcome():
    """The encapsulator's decision never raises: 20,000 seeded fuzz datagrams (truncated, lying lengths, random
    bytes, spoofed, martian) each end up delivered or dropped with a known reason."""
    import random
    from testbed.sixtofour.addressing import DROP_REASONS
    from testbed.sixtofour.spoof import crafted
    rng = random.Random(3)
    outcomes = {}
    for _ in range(20000):
        packet = crafted('fuzz', R2, R1, A, rng)
        inner, reason = decapsulate(packet, 'router', SITES_R1, RELAYS)
        assert (inner is None) != (reason is None)
        outcomes[reason or 'delivered'] = outcomes.get(reason or 'delivered', 0) + 1
    print(outcomes)
    assert set(outcomes) <= set(DROP_REASONS) | {'delivered'} and sum(outcomes.values()) == 20000
    assert outcomes["malformed"] > 6000 and outcomes["delivered"] > 1200
