"""The survey's tunnel modes (testbed.transition.tunnels) against their RFCs' rules and examples, and RFC 6052's
address synthesis (testbed.transition.nat64) against the RFC's own table, on packets built with scapy."""
import ipaddress

import pytest
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6, ICMPv6EchoRequest

from testbed.transition import nat64
from testbed.transition.tunnels import (DROP_REASONS, TunnelConfigError, isatap_address, isatap_interface_id,
                                        kernel_commands, mode_from_config, sixrd_domain, v4compat_address)


def datagram(outer_src, outer_dst, inner_src, inner_dst):
    return bytes(IP(src=outer_src, dst=outer_dst, proto=41) / IPv6(src=inner_src, dst=inner_dst) / ICMPv6EchoRequest())


def packet(src, dst):
    return bytes(IPv6(src=src, dst=dst) / ICMPv6EchoRequest())


def v4(packed):
    return None if packed is None else str(ipaddress.IPv4Address(packed))


# -- RFC 6052: the table of section 2.4, 192.0.2.33 under 2001:db8:122:344::/n ----------------------------------
@pytest.mark.parametrize('prefix, expected', [
    ('2001:db8::/32', '2001:db8:c000:221::'),
    ('2001:db8:100::/40', '2001:db8:1c0:2:21::'),
    ('2001:db8:122::/48', '2001:db8:122:c000:2:2100::'),
    ('2001:db8:122:300::/56', '2001:db8:122:3c0:0:221::'),
    ('2001:db8:122:344::/64', '2001:db8:122:344:c0:2:2100:0'),
    ('2001:db8:122:344::/96', '2001:db8:122:344::192.0.2.33'),
    ('64:ff9b::/96', '64:ff9b::192.0.2.33'),
])
def test_rfc6052_synthesis_and_extraction_match_the_rfc_table(prefix, expected):
    assert nat64.synthesize(prefix, '192.0.2.33') == ipaddress.IPv6Address(expected)
    assert nat64.extract(prefix, expected) == ipaddress.IPv4Address('192.0.2.33')


@pytest.mark.parametrize('prefix, why', [('64:ff9b::/64', None), ('2001:db8::/33', 'allows /32'),
                                         ('64:ff9b::/120', 'allows'), ('2001:db8:0:0:100::/96', 'bits 64-71'),
                                         ('not-a-prefix', 'not an IPv6 prefix')])
def test_rfc6052_refuses_prefixes_it_does_not_allow(prefix, why):
    if why is None:
        assert nat64.nat64_prefix(prefix).prefixlen == 64
        return
    with pytest.raises(nat64.Nat64PrefixError, match=why):
        nat64.nat64_prefix(prefix)


# -- manual 6in4 (RFC 4213) ----------------------------------------------------------------------------------------
def test_manual_tunnel_sends_everything_to_its_peer_and_accepts_only_it():
    mode = mode_from_config({'mode': 'manual', 'local': '192.0.2.1', 'remote': '198.51.100.1'})
    assert v4(mode.target(packet('2001:db8:1::1', '2001:db8:99::1'))[0]) == '198.51.100.1'
    ok = datagram('198.51.100.1', '192.0.2.1', '2001:db8:2::1', '2001:db8:1::1')
    assert mode.accept(ok)[1] is None
    assert mode.accept(datagram('203.0.113.9', '192.0.2.1', '2001:db8:2::1', '2001:db8:1::1')) == (None, 'not_peer')
    assert mode.accept(datagram('198.51.100.1', '192.0.2.1', 'ff02::1', '2001:db8:1::1')) == (None, 'martian')
    assert mode.accept(ok[:30]) == (None, 'malformed')


# -- IPv4-compatible automatic tunnels (RFC 2893, historic) --------------------------------------------------------
def test_v4compat_reaches_only_other_v4compat_hosts():
    assert str(v4compat_address('192.0.2.1')) == '::c000:201'
    mode = mode_from_config({'mode': 'v4compat', 'local': '192.0.2.1'})
    assert v4(mode.target(packet('::192.0.2.1', '::198.51.100.1'))[0]) == '198.51.100.1'
    assert mode.target(packet('::192.0.2.1', '2001:db8::1')) == (None, 'no_mapping')  # why it was dropped
    assert mode.accept(datagram('198.51.100.1', '192.0.2.1', '::198.51.100.1', '::192.0.2.1'))[1] is None
    assert mode.accept(datagram('203.0.113.9', '192.0.2.1', '::198.51.100.1', '::192.0.2.1')) == (None, 'spoofed')


# -- 6rd (RFC 5969) ------------------------------------------------------------------------------------------------
def test_6rd_delegated_prefix_with_a_whole_ipv4_address():
    domain = sixrd_domain('2001:db8::/32', 0, '203.0.113.1')
    assert str(domain.delegated_prefix('192.0.2.1')) == '2001:db8:c000:201::/64'
    # a /30 6rd prefix: the IPv4 address's first two bits land in the prefix's last two (as ipv6calc computes it)
    assert str(sixrd_domain('2a01:79c::/30', 0, '213.167.115.92').delegated_prefix('81.167.4.214')) == \
        '2a01:79d:469c:1358::/62'


def test_6rd_with_a_common_ipv4_prefix_left_out():
    domain = sixrd_domain('2001:db8::/32', 8, '10.0.0.1', v4_prefix='10.0.0.0/8')
    assert str(domain.delegated_prefix('10.100.100.1')) == '2001:db8:6464:100::/56'
    assert v4(domain.embedded_v4(ipaddress.IPv6Address('2001:db8:6464:1ff::1').packed)) == '10.100.100.1'
    with pytest.raises(TunnelConfigError, match='outside the domain'):
        domain.delegated_prefix('192.0.2.1')


@pytest.mark.parametrize('args, why', [(('2001:db8::/40', 0), 'must fit in 64 bits'),
                                       (('2001:db8::/32', 8), 'needs the common IPv4 prefix'),
                                       (('2001:db8::/32', 33), '0..32'), (('zz', 0), 'not an IPv6 prefix')])
def test_6rd_parameters_that_cannot_work_are_refused(args, why):
    with pytest.raises(TunnelConfigError, match=why):
        sixrd_domain(*args, relay='203.0.113.1')


def test_6rd_ce_and_border_relay_decisions():
    common = {'mode': '6rd', 'prefix': '2001:db8::/32', 'relay': '203.0.113.1'}
    ce = mode_from_config({**common, 'local': '192.0.2.1'})
    br = mode_from_config({**common, 'local': '203.0.113.1', 'role': 'br'})
    other_ce, native = '2001:db8:c633:6401::10', '2001:470:1::1'
    own = '2001:db8:c000:201::10'
    assert v4(ce.target(packet(own, other_ce))[0]) == '198.51.100.1'      # straight to the other CE
    assert v4(ce.target(packet(own, native))[0]) == '203.0.113.1'         # the rest through the BR
    assert v4(br.target(packet(native, own))[0]) == '192.0.2.1'
    assert br.target(packet(own, native)) == (None, 'wrong_destination')
    assert ce.accept(datagram('198.51.100.1', '192.0.2.1', other_ce, own))[1] is None
    assert ce.accept(datagram('203.0.113.1', '192.0.2.1', native, own))[1] is None
    assert ce.accept(datagram('198.51.100.7', '192.0.2.1', other_ce, own)) == (None, 'spoofed')
    assert ce.accept(datagram('198.51.100.1', '192.0.2.1', native, own)) == (None, 'not_from_relay')
    assert ce.accept(datagram('198.51.100.1', '192.0.2.1', other_ce, '2001:db8:c000:202::1')) == \
        (None, 'wrong_destination')
    assert br.accept(datagram('192.0.2.1', '203.0.113.1', own, native))[1] is None
    assert br.accept(datagram('192.0.2.1', '203.0.113.1', native, own)) == (None, 'spoofed')


# -- ISATAP (RFC 5214) ---------------------------------------------------------------------------------------------
def test_isatap_interface_identifiers():
    assert str(isatap_address('fe80::/64', '192.168.1.5')) == 'fe80::5efe:c0a8:105'      # private: u bit 0
    assert str(isatap_address('2001:db8:1::/64', '192.0.2.143')) == '2001:db8:1::5efe:c000:28f'  # documentation
    assert isatap_interface_id('198.51.100.1', global_v4=True) >> 32 == 0x02005efe
    with pytest.raises(TunnelConfigError, match='/64'):
        isatap_address('2001:db8::/48', '10.0.0.1')


def test_isatap_host_behind_a_private_address():
    host = mode_from_config({'mode': 'isatap', 'local': '10.0.0.2', 'routers': ['10.0.0.1'],
                             'prefixes': ['2001:db8:1::/64']})
    me, peer = str(isatap_address('2001:db8:1::/64', '10.0.0.2')), str(isatap_address('2001:db8:1::/64', '10.0.0.3'))
    router_ll = str(isatap_address('fe80::/64', '10.0.0.1'))
    assert v4(host.target(packet(me, peer))[0]) == '10.0.0.3'           # on-link: straight to the peer
    assert v4(host.target(packet(me, '2001:db8:99::1'))[0]) == '10.0.0.1'  # off-link: the PRL's router
    assert v4(host.target(packet('fe80::5efe:a00:2', router_ll))[0]) == '10.0.0.1'
    assert host.target(packet(me, 'ff02::2')) == (None, 'link_scope')
    assert host.accept(datagram('10.0.0.3', '10.0.0.2', peer, me))[1] is None
    assert host.accept(datagram('10.0.0.1', '10.0.0.2', '2001:db8:99::1', me))[1] is None   # forwarded by the router
    assert host.accept(datagram('10.0.0.9', '10.0.0.2', peer, me)) == (None, 'spoofed')
    assert host.accept(datagram('10.0.0.9', '10.0.0.2', '2001:db8:99::1', me)) == (None, 'spoofed')


def test_isatap_needs_a_router_list_and_64_bit_prefixes():
    with pytest.raises(TunnelConfigError, match='potential router list'):
        mode_from_config({'mode': 'isatap', 'local': '10.0.0.2'})
    with pytest.raises(TunnelConfigError, match='/64'):
        mode_from_config({'mode': 'isatap', 'local': '10.0.0.1', 'role': 'router', 'prefixes': ['2001:db8::/48']})


def test_unknown_mode_and_bad_addresses_are_one_error_each():
    with pytest.raises(TunnelConfigError, match='unknown tunnel mode'):
        mode_from_config({'mode': 'gre', 'local': '192.0.2.1'})
    with pytest.raises(TunnelConfigError, match='not an IPv4 address'):
        mode_from_config({'mode': 'manual', 'local': '192.0.2.1', 'remote': '300.1.1.1'})


def test_6to4_is_one_mode_among_them():
    mode = mode_from_config({'mode': '6to4', 'local': '192.0.2.1'})
    assert v4(mode.target(packet('2002:c000:201:1::10', '2002:c633:6401:1::10'))[0]) == '198.51.100.1'
    assert mode.accept(datagram('198.51.100.2', '192.0.2.1', '2002:c633:6401:1::10', '2002:c000:201:1::10')) == \
        (None, 'spoofed')


@pytest.mark.parametrize('config', [
    {'mode': 'manual', 'local': '192.0.2.1', 'remote': '198.51.100.1'},
    {'mode': 'v4compat', 'local': '192.0.2.1'},
    {'mode': '6rd', 'local': '192.0.2.1', 'prefix': '2001:db8::/32', 'relay': '203.0.113.1'},
    {'mode': 'isatap', 'local': '10.0.0.2', 'routers': ['10.0.0.1']},
    {'mode': '6to4', 'local': '192.0.2.1'}])
def test_every_mode_survives_garbage(config):
    """Every mode decides on any bytes without raising, and counts what it refuses under a known reason: every
    truncation of a good datagram is malformed, and so are random bytes."""
    import random
    mode = mode_from_config(config)
    good = datagram('198.51.100.1', '192.0.2.1', '2001:db8::1', '2001:db8::2')
    assert all(mode.accept(good[:n]) == (None, 'malformed') for n in range(len(good)))
    generator = random.Random(7)
    for _ in range(2000):
        sample = generator.randbytes(generator.randrange(0, 120))
        assert mode.accept(sample) == (None, 'malformed')
        _, reason = mode.target(sample)
        assert reason is None or reason in DROP_REASONS


def test_kernel_commands_per_mode():
    manual = kernel_commands({'mode': 'manual', 'local': '192.0.2.1', 'remote': '198.51.100.1'}, 'tun6in4')
    assert manual[0] == 'ip tunnel add tun6in4 mode sit local 192.0.2.1 ttl 64 remote 198.51.100.1'
    sixrd = kernel_commands({'mode': '6rd', 'local': '10.64.1.1', 'prefix': '2001:db8:6000::/40', 'v4_common': 16,
                             'v4_prefix': '10.64.0.0/16', 'relay': '10.64.0.1'}, 'tun6rd')
    assert 'ip tunnel 6rd dev tun6rd 6rd-prefix 2001:db8:6000::/40 6rd-relay_prefix 10.64.0.0/16' in sixrd
    isatap = kernel_commands({'mode': 'isatap', 'local': '10.0.0.2', 'routers': ['10.0.0.1']}, 'isatap0')
    assert isatap[:2] == ['ip tunnel add isatap0 mode isatap local 10.0.0.2 ttl 64',
                          'ip tunnel prl prl-default 10.0.0.1 dev isatap0']
    assert all(commands[-1].endswith('mtu 1480 up') for commands in (manual, sixrd, isatap))
    with pytest.raises(TunnelConfigError, match='must fit'):
        kernel_commands({'mode': '6rd', 'local': '10.64.1.1', 'prefix': '2001:db8::/48', 'relay': '10.64.0.1'}, 't')


def test_broker_allocates_a_link_and_a_site_per_client_once():
    from testbed.transition.broker import Broker, BrokerError
    broker = Broker('203.0.113.1')
    first = broker.request({'client_v4': '192.0.2.10'})
    assert (first.server_address, first.client_address, first.prefix) == \
        ('2001:db8:b1::1/64', '2001:db8:b1::2/64', '2001:db8:b200::/56')
    assert broker.request({'client_v4': '192.0.2.10'}) == first          # asking again: the same tunnel
    second = broker.request({'client_v4': '198.51.100.10'})
    assert second.prefix == '2001:db8:b200:100::/56' and second.number == 1
    assert broker.release('192.0.2.10') == first
    assert broker.request({'client_v4': '192.0.2.99'}).number == 0       # a freed tunnel is reused
    for body, status, words in (({'client_v4': 'x'}, 400, 'not an IPv4 address'), (['x'], 400, 'JSON object'),
                                ({'client_v4': '203.0.113.1'}, 400, "cannot be a tunnel's far end"),
                                ({'client_v4': '224.0.0.1'}, 400, "far end")):
        with pytest.raises(BrokerError, match=words) as refused:
            broker.request(body)
        assert refused.value.status == status
    with pytest.raises(BrokerError, match='no tunnel for') as missing:
        broker.release('10.9.9.9')
    assert missing.value.status == 404
    small = Broker('203.0.113.1', limit=1)
    small.request({'client_v4': '192.0.2.1'})
    with pytest.raises(BrokerError, match='no tunnel left') as full:
        small.request({'client_v4': '192.0.2.2'})
    assert full.value.status == 409


def test_6over4_mappings_follow_rfc_2529():
    from testbed.transition import sixover4
    assert sixover4.link_address('192.0.2.10') == bytes([192, 0, 2, 10, 0, 0])   # option length 1: IPv4 + 2 zeros
    assert str(sixover4.link_local('192.0.2.10')) == 'fe80::c000:20a'
    with pytest.raises(sixover4.SixOverFourError, match='first octet odd'):
        sixover4.link_address('203.0.113.1')
    own = sixover4.link_address('192.0.2.10')
    solicit = bytes(IPv6(src='fe80::c000:20a', dst='ff02::1:ff00:20b') / ICMPv6EchoRequest())
    frame = b'\x33\x33\xff\x00\x02\x0b' + own + b'\x86\xdd' + solicit
    inner, target, reason = sixover4.to_ipv4(frame)
    assert (inner, str(ipaddress.IPv4Address(target)), reason) == (solicit, '239.192.2.11', None)
    unicast = sixover4.link_address('192.0.2.11') + own + b'\x86\xdd' + solicit
    assert str(ipaddress.IPv4Address(sixover4.to_ipv4(unicast)[1])) == '192.0.2.11'
    assert sixover4.to_ipv4(b'\x00' * 20)[2] == 'malformed'
    back, reason = sixover4.to_frame(bytes([192, 0, 2, 11]), solicit, own)
    assert reason is None and back[:6] == b'\x33\x33\xff\x00\x02\x0b' and back[6:12] == bytes([192, 0, 2, 11, 0, 0])
    assert sixover4.to_frame(bytes(4), solicit[:30], own) == (None, 'malformed')


RDISC6_ANSWER = '''Soliciting fe80::5efe:a00:1 (fe80::5efe:a00:1) on isatap0...

Hop limit                 :           64 (      0x40)
Stateful address conf.    :           No
Router lifetime           :         9000 (0x00002328) seconds
Reachable time            :  unspecified (0x00000000)
 Prefix                   : 2001:db8:5e::/64
  On-link                 :          Yes
  Autonomous address conf.:          Yes
 MTU                      :         1480 bytes (valid)
 from fe80::5efe:a00:1
'''


def test_isatap_router_discovery_is_unicast_and_read_back():
    from testbed.transition.discovery import radvd_config, read_advertisement
    config = radvd_config('isatap0', ['2001:db8:5e::/64'], 1480)
    assert 'UnicastOnly on;' in config and 'AdvLinkMTU 1480;' in config            # no multicast on an ISATAP link
    assert 'prefix 2001:db8:5e::/64 { AdvOnLink on; AdvAutonomous on; };' in config
    learned = read_advertisement(RDISC6_ANSWER)
    assert (str(learned.router), learned.lifetime, learned.mtu) == ('fe80::5efe:a00:1', 9000, 1480)
    assert learned.prefixes == (ipaddress.IPv6Network('2001:db8:5e::/64'),)
    assert read_advertisement('Soliciting fe80::5efe:a00:9 (fe80::5efe:a00:9) on isatap0...\nTimed out.\n'
                              'No response.\n') is None
    with pytest.raises(ValueError):
        radvd_config('isatap0', ['2001:db8:5e::1/64'], 1480)     # a prefix with host bits is not a prefix
