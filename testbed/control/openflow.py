"""The router app's commands (``testbed.control.core.Command``) as OpenFlow 1.3 messages to a Ryu datapath.

FlowMods and bundles are packed by ``testbed.control.ofwire`` (byte for byte what Ryu's parser builds, at a
fraction of the cost); the rest goes through Ryu's parser. Bundles are atomic (Open vSwitch applies each as one
transaction: no packet sees half a table) and followed by a barrier whose reply acknowledges the timeline entry.
"""
from testbed.control import ofwire
from testbed.control.flows import COOKIE_ROUTE

ALL = 0xffffffffffffffff


class CommandSender:
    """Sends commands; remembers which timeline entry each barrier acknowledges (``pending_barriers``)."""

    def __init__(self):
        self.pending_barriers = {}  # (dpid, xid) -> timeline entry
        self.bundle_id = 0

    def send(self, datapath, command):
        getattr(self, f'_{command.kind}')(datapath, command)

    @staticmethod
    def next_xid(datapath):
        """The next transaction id, from the same counter Ryu's own ``set_xid`` uses."""
        datapath.xid = (datapath.xid + 1) & datapath.ofproto.MAX_XID
        return datapath.xid

    def _async(self, datapath, _command):
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        reasons = (1 << ofp.OFPR_ACTION) | (1 << ofp.OFPR_INVALID_TTL)
        ports = (1 << ofp.OFPPR_ADD) | (1 << ofp.OFPPR_DELETE) | (1 << ofp.OFPPR_MODIFY)
        datapath.send_msg(parser.OFPSetAsync(datapath, [reasons, 0], [ports, ports], [0, 0]))

    def _flows(self, datapath, command):
        for spec in command.specs:
            datapath.send(ofwire.flow_mod(spec, self.next_xid(datapath)))

    def _bundle(self, datapath, command):
        """One atomic bundle (no packet sees half a table) of FlowMods packed by ofwire, then a barrier."""
        messages = [ofwire.flow_mod(spec, self.next_xid(datapath)) for spec in command.specs]
        messages += [ofwire.flow_mod(spec, self.next_xid(datapath), delete=True) for spec in command.deletions]
        xid = self.next_xid(datapath)
        self.pending_barriers[(datapath.id, xid)] = command.entry
        self.bundle_id = (self.bundle_id + 1) & 0xffffffff
        datapath.send(ofwire.bundle(self.bundle_id, messages, lambda: self.next_xid(datapath)) + ofwire.barrier(xid))

    def _route_count(self, datapath, _command):
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        datapath.send_msg(parser.OFPAggregateStatsRequest(datapath, 0, ofp.OFPTT_ALL, ofp.OFPP_ANY, ofp.OFPG_ANY,
                                                          COOKIE_ROUTE, ALL, parser.OFPMatch()))

    def _route_dump(self, datapath, _command):
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        datapath.send_msg(parser.OFPFlowStatsRequest(datapath, table_id=ofp.OFPTT_ALL, out_port=ofp.OFPP_ANY,
                                                     out_group=ofp.OFPG_ANY, cookie=COOKIE_ROUTE, cookie_mask=ALL))

    def _delete_route(self, datapath, command):
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        datapath.send_msg(parser.OFPFlowMod(datapath=datapath, cookie=COOKIE_ROUTE, priority=command.priority,
                                            command=ofp.OFPFC_DELETE_STRICT, out_port=ofp.OFPP_ANY,
                                            out_group=ofp.OFPG_ANY, match=parser.OFPMatch(**command.match)))

    def _delete_cookie(self, datapath, command):
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        datapath.send_msg(parser.OFPFlowMod(datapath=datapath, cookie=command.cookie, cookie_mask=ALL,
                                            table_id=ofp.OFPTT_ALL, command=ofp.OFPFC_DELETE, out_port=ofp.OFPP_ANY,
                                            out_group=ofp.OFPG_ANY, match=parser.OFPMatch()))

    def _meters(self, datapath, command):
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        for meter, rate in command.meters.items():
            kbps = int(rate / 1e3)
            band = parser.OFPMeterBandDrop(rate=kbps, burst_size=max(16, kbps // 50))  # ~20 ms of burst
            datapath.send_msg(parser.OFPMeterMod(datapath, command=ofp.OFPMC_ADD if meter in command.meters_new
                                                 else ofp.OFPMC_MODIFY, flags=ofp.OFPMF_KBPS | ofp.OFPMF_BURST,
                                                 meter_id=meter, bands=[band]))
        for meter in command.meters_removed:
            datapath.send_msg(parser.OFPMeterMod(datapath, command=ofp.OFPMC_DELETE, meter_id=meter))

    def _packet(self, datapath, command):
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        datapath.send_msg(parser.OFPPacketOut(datapath=datapath, buffer_id=ofp.OFP_NO_BUFFER,
                                              in_port=ofp.OFPP_CONTROLLER,
                                              actions=[parser.OFPActionOutput(command.port)], data=command.data))
