"""The packed FlowMods are byte for byte what Ryu's own parser serializes (no switch, no controller needed)."""
import pytest
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from testbed.control import ofwire
from testbed.control.flows import ETH_ARP, ETH_IPV4, ETH_IPV6, FlowSpec, PRIORITY_PUNT

SPECS = [
    FlowSpec(1024, (('eth_type', ETH_IPV4), ('ipv4_dst', ('10.0.3.0', '255.255.255.0'))),
             (('dec_ttl',), ('set_field', 'eth_src', '0a:00:00:00:00:01'),
              ('set_field', 'eth_dst', '02:aa:bb:cc:dd:ee'),
              ('output', 3))),
    FlowSpec(1064, (('eth_type', ETH_IPV6), ('ipv6_dst', ('2001:db8:3::', 'ffff:ffff:ffff:ffff::'))),
             (('meter', 7), ('dec_ttl',), ('set_field', 'eth_src', '0a:00:00:00:00:01'),
              ('set_field', 'eth_dst', '0a:00:00:00:00:02'), ('output', 2))),
    FlowSpec(PRIORITY_PUNT, (('eth_type', ETH_ARP), ('arp_op', 1), ('arp_tpa', '10.0.1.1'), ('in_port', 1)),
             (('controller',),)),
    FlowSpec(PRIORITY_PUNT, (('eth_type', ETH_IPV6), ('ip_proto', 58), ('icmpv6_type', 135),
                             ('ipv6_nd_target', '2001:db8:1::1'), ('in_port', 1)), (('controller',),)),
]


class FakeDatapath:
    ofproto = ofp
    ofproto_parser = parser


def ryu_actions(spec):
    actions = []
    for action in spec.actions:
        if action[0] == 'dec_ttl':
            actions.append(parser.OFPActionDecNwTtl())
        elif action[0] == 'set_field':
            actions.append(parser.OFPActionSetField(**{action[1]: action[2]}))
        elif action[0] == 'output':
            actions.append(parser.OFPActionOutput(action[1]))
        elif action[0] == 'controller':
            actions.append(parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER))
    return actions


def ryu_bytes(msg, xid):
    msg.set_xid(xid)
    msg.serialize()
    return bytes(msg.buf)


@pytest.mark.parametrize('spec', SPECS, ids=['ipv4-route', 'ipv6-route-metered', 'arp-punt', 'ns-punt'])
def test_flow_mod_matches_ryu(spec):
    instructions = [parser.OFPInstructionMeter(a[1], ofp.OFPIT_METER) for a in spec.actions if a[0] == 'meter']
    instructions.append(parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, ryu_actions(spec)))
    msg = parser.OFPFlowMod(datapath=FakeDatapath(), cookie=spec.cookie, priority=spec.priority,
                            match=parser.OFPMatch(**dict(spec.match)), instructions=instructions)
    assert ofwire.flow_mod(spec, 42) == ryu_bytes(msg, 42)


def test_delete_and_barrier_match_ryu():
    spec = SPECS[0]
    msg = parser.OFPFlowMod(datapath=FakeDatapath(), cookie=spec.cookie, priority=spec.priority,
                            command=ofp.OFPFC_DELETE_STRICT, out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY,
                            match=parser.OFPMatch(**dict(spec.match)))
    assert ofwire.flow_mod(spec, 9, delete=True) == ryu_bytes(msg, 9)
    assert ofwire.barrier(11) == ryu_bytes(parser.OFPBarrierRequest(FakeDatapath()), 11)


def test_bundle_messages_match_ryu():
    dp = FakeDatapath()
    inner = ofwire.flow_mod(SPECS[0], 77)
    ctrl = parser.ONFBundleCtrlMsg(dp, 5, ofp.ONF_BCT_OPEN_REQUEST, ofp.ONF_BF_ATOMIC, [])
    assert ofwire.bundle_control(5, ofwire.OFPBCT_OPEN_REQUEST, 76) == ryu_bytes(ctrl, 76)
    instructions = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, ryu_actions(SPECS[0]))]
    flow = parser.OFPFlowMod(datapath=dp, cookie=SPECS[0].cookie, priority=SPECS[0].priority,
                             match=parser.OFPMatch(**dict(SPECS[0].match)), instructions=instructions)
    flow.set_xid(77)
    add = parser.ONFBundleAddMsg(dp, 5, ofp.ONF_BF_ATOMIC, flow, [])
    assert ofwire.bundle_add(5, inner) == ryu_bytes(add, 77)
