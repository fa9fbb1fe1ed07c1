"""The controller's answers as bytes: the same frames Ryu's packet library builds (what the app used to send)."""
import pytest
from ryu.lib.packet import arp, ethernet, icmp, icmpv6, ipv4, ipv6, packet
from ryu.ofproto import ether
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import ICMPv6ND_NS, IPv6
from scapy.layers.l2 import ARP, Ether

from testbed.control.packets import answer

SWITCH = {'mac': '0a:00:00:00:00:01', 'ipv4': '10.255.0.1', 'ipv6': 'fd00:ff::1'}
HOST_MAC = '00:00:00:00:00:0a'
GATEWAYS = {'10.0.1.254', '2001:db8:1::fe'}


def ours(address):
    return address in GATEWAYS


def ryu_bytes(*protocols):
    pkt = packet.Packet()
    for protocol in protocols:
        pkt.add_protocol(protocol)
    pkt.serialize()
    return bytes(pkt.data)


def test_an_arp_request_for_the_gateway_gets_the_router_mac():
    request = bytes(Ether(src=HOST_MAC, dst='ff:ff:ff:ff:ff:ff') / ARP(op=1, hwsrc=HOST_MAC, psrc='10.0.1.10',
                                                                        pdst='10.0.1.254'))
    kind, reply = answer(request, SWITCH, False, ours)
    expected = ryu_bytes(ethernet.ethernet(ethertype=ether.ETH_TYPE_ARP, dst=HOST_MAC, src=SWITCH['mac']),
                         arp.arp(opcode=arp.ARP_REPLY, src_mac=SWITCH['mac'], src_ip='10.0.1.254', dst_mac=HOST_MAC,
                                 dst_ip='10.0.1.10'))
    assert kind == 'arp' and reply == expected
    other = bytes(Ether(src=HOST_MAC) / ARP(op=1, hwsrc=HOST_MAC, psrc='10.0.1.10', pdst='10.0.1.99'))
    assert answer(other, SWITCH, False, ours) == ('arp', None)


def test_a_neighbour_solicitation_for_the_gateway_gets_an_advertisement():
    source = '2001:db8:1::10'
    solicit = bytes(Ether(src=HOST_MAC, dst='33:33:ff:00:00:fe') / IPv6(src=source, dst='ff02::1:ff00:fe') /
                    ICMPv6ND_NS(tgt='2001:db8:1::fe'))
    kind, reply = answer(solicit, SWITCH, False, ours)
    expected = ryu_bytes(
        ethernet.ethernet(ethertype=ether.ETH_TYPE_IPV6, dst=HOST_MAC, src=SWITCH['mac']),
        ipv6.ipv6(src='2001:db8:1::fe', dst=source, nxt=58, hop_limit=255),
        icmpv6.icmpv6(type_=icmpv6.ND_NEIGHBOR_ADVERT, data=icmpv6.nd_neighbor(
            res=0b111, dst='2001:db8:1::fe', option=icmpv6.nd_option_tla(hw_src=SWITCH['mac']))))
    assert kind == 'neighbour_solicitation' and reply == expected


@pytest.mark.parametrize('version', [4, 6])
def test_an_expired_packet_gets_time_exceeded_from_the_switch(version):
    if version == 4:
        expired = bytes(Ether(src=HOST_MAC, dst=SWITCH['mac']) / IP(src='10.0.1.10', dst='10.0.3.10', ttl=1) /
                        UDP(sport=33434, dport=33435) / (b'x' * 32))
        quoted = expired[14:14 + 20 + 8]
        expected = ryu_bytes(ethernet.ethernet(ethertype=ether.ETH_TYPE_IP, dst=HOST_MAC, src=SWITCH['mac']),
                             ipv4.ipv4(src=SWITCH['ipv4'], dst='10.0.1.10', proto=1, ttl=64),
                             icmp.icmp(type_=icmp.ICMP_TIME_EXCEEDED, code=0, data=icmp.TimeExceeded(data=quoted)))
    else:
        expired = bytes(Ether(src=HOST_MAC, dst=SWITCH['mac']) / IPv6(src='2001:db8:1::10', dst='2001:db8:3::10',
                                                                      hlim=1) / UDP(sport=33434, dport=33435) /
                        (b'x' * 1500))
        quoted = bytes(4) + expired[14:14 + 1232]
        expected = ryu_bytes(ethernet.ethernet(ethertype=ether.ETH_TYPE_IPV6, dst=HOST_MAC, src=SWITCH['mac']),
                             ipv6.ipv6(src=SWITCH['ipv6'], dst='2001:db8:1::10', nxt=58, hop_limit=64),
                             icmpv6.icmpv6(type_=icmpv6.ICMPV6_TIME_EXCEEDED, code=0, data=quoted))
    assert answer(expired, SWITCH, True, ours) == ('ttl_expired', expected)


def test_other_packets_and_runts_get_no_answer():
    assert answer(b'\0' * 10, SWITCH, False, ours) == ('other', None)
    assert answer(bytes(Ether(type=0x88cc) / (b'\0' * 40)), SWITCH, False, ours) == ('lldp', None)
    assert answer(bytes(Ether() / IP() / UDP()), SWITCH, False, ours) == ('other', None)
