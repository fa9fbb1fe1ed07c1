"""Ryu app: the testbed's control plane. OpenFlow switches become routers with computed forwarding tables.

A thin shim, as in FAUCET: every decision is ``testbed.control.core.RouterCore`` (pure, unit-tested without
switches: link discovery to tables, failures to changed entries and a timeline, circuits to flows and meters, ARP,
neighbour discovery and time exceeded answered); this app turns Ryu's events into the core's calls and the core's
commands into OpenFlow messages (``testbed.control.openflow``). REST: ``testbed.control.api``.
"""
import json
import os
import time

from ryu.app.wsgi import ControllerBase, WSGIApplication, route
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.ofproto import ofproto_v1_3
from ryu.topology import event as topo_event
from webob import Response

from testbed.control.api import PATHS
from testbed.control.circuits import AdmissionError
from testbed.control.core import RouterCore, link_key
from testbed.control.openflow import CommandSender
from testbed.system.usercode import load_function, routing_algorithm

app_manager.require_app('ryu.topology.switches', api_style=True)

REST_NAME = 'testbed_router'


class TestbedRouter(app_manager.RyuApp):
    """Proactive shortest-path routing for the testbed's OpenFlow core."""

    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS = {'wsgi': WSGIApplication}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        with open(os.environ['TESTBED_PLAN']) as handle:
            plan = json.load(handle)
        algorithm = os.environ.get('TESTBED_ALGORITHM', plan.get('algorithm', 'link-state'))
        admission = os.environ.get('TESTBED_ADMISSION')
        metric = os.environ.get('TESTBED_METRIC', plan.get('metric', 'hops'))
        self.core = RouterCore(plan, routing_algorithm(algorithm), metric,
                               load_function(admission, 'admit', 'admission module') if admission else None,
                               time.time, algorithm, aggregate=bool(os.environ.get('TESTBED_AGGREGATE')))
        self.circuits_file = os.path.join(os.path.dirname(os.path.abspath(os.environ['TESTBED_PLAN'])),
                                          'circuits.json')
        if os.path.exists(self.circuits_file):  # a restarted controller keeps the circuits
            with open(self.circuits_file) as handle:
                self.core.book.restore(json.load(handle))
        self.datapaths = {}
        self.sender = CommandSender()
        kwargs['wsgi'].register(RestApi, {REST_NAME: self})

    # -- events to the core --------------------------------------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev):
        name = self.core.name_of.get(ev.msg.datapath.id)
        if name is None:
            self.logger.warning('switch %016x is not in the plan; ignoring it', ev.msg.datapath.id)
            return
        self.datapaths[name] = ev.msg.datapath
        self._event(lambda: self.core.switch_connected(name))

    @set_ev_cls(topo_event.EventLinkAdd)
    def link_add(self, ev):
        a, b = (self.core.name_of.get(end.dpid) for end in (ev.link.src, ev.link.dst))
        if a and b:
            self._event(lambda: self.core.link_up(a, ev.link.src.port_no, b, ev.link.dst.port_no))

    @set_ev_cls(topo_event.EventLinkDelete)
    def link_delete(self, ev):
        a, b = (self.core.name_of.get(end.dpid) for end in (ev.link.src, ev.link.dst))
        if a and b:
            key = link_key(a, ev.link.src.port_no, b, ev.link.dst.port_no)
            self._event(lambda: self.core.link_down(key, 'LLDP timeout', time.time()))

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def port_status(self, ev):
        received, msg, ofp = time.time(), ev.msg, ev.msg.datapath.ofproto
        name = self.core.name_of.get(msg.datapath.id)
        down = msg.reason == ofp.OFPPR_DELETE or bool(msg.desc.state & ofp.OFPPS_LINK_DOWN)
        if name is not None:
            self._event(lambda: self.core.port_status(name, msg.desc.port_no, down, received))

    @set_ev_cls(ofp_event.EventOFPAggregateStatsReply, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def aggregate_stats(self, ev):
        name = self.core.name_of.get(ev.msg.datapath.id)
        if name is not None:
            self.core.route_count(name, ev.msg.body.flow_count)

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def flow_stats(self, ev):
        name = self.core.name_of.get(ev.msg.datapath.id)
        if name is not None:
            held = [(stat.priority, dict(stat.match.items())) for stat in ev.msg.body]
            self._event(lambda: self.core.stale_routes(name, held))

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def barrier_reply(self, ev):
        entry = self.sender.pending_barriers.pop((ev.msg.datapath.id, ev.msg.xid), None)
        if entry is not None:
            self.core.acknowledged(entry)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        msg = ev.msg
        name = self.core.name_of.get(msg.datapath.id)
        if name is not None:
            expired = msg.reason == msg.datapath.ofproto.OFPR_INVALID_TTL
            self._event(lambda: self.core.packet_in(name, msg.match['in_port'], bytes(msg.data), expired))

    def reserve(self, src, dst, rate):
        circuit = self._event(lambda: self.core.reserve(src, dst, rate))
        self.logger.info('circuit %d admitted: %s -> %s, %.1f Mb/s via %s', circuit.id, src, dst, rate / 1e6,
                         '-'.join(circuit.path))
        return circuit

    def teardown(self, circuit_id):
        return self._event(lambda: self.core.teardown(circuit_id))

    # -- the core's commands to the switches ---------------------------------------------------------------------
    def _event(self, call):
        """Run one core call, send its commands, stamp the timeline entries it made, keep the circuits on disk."""
        before, circuits = len(self.core.timeline), self.core.book.rows()
        result = call()
        value, commands = result if isinstance(result, tuple) else (None, result or [])
        for command in commands:
            if command.switch in self.datapaths:
                self.sender.send(self.datapaths[command.switch], command)
        for entry in self.core.timeline[before:]:
            self.core.sent(entry)
            self.logger.info('reconverged (%s): %d FlowMods', entry['event'], entry['flow_mods'])
        if self.core.error:
            self.logger.error(self.core.error)
        if self.core.book.rows() != circuits:
            self._save_circuits()
        return value

    def _save_circuits(self):
        tmp = self.circuits_file + '.tmp'
        with open(tmp, 'w') as handle:
            json.dump(self.core.book.rows(), handle)
        os.replace(tmp, self.circuits_file)


class RestApi(ControllerBase):
    """The REST API (``testbed.control.api``) over the core's state."""

    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app = data[REST_NAME]

    @staticmethod
    def _json(value, status=200):
        return Response(content_type='application/json', charset='utf-8', body=json.dumps(value, indent=1),
                        status=status)

    @route('testbed', PATHS['status'], methods=['GET'])
    def get_status(self, req, **_kwargs):
        return self._json(self.app.core.status())

    @route('testbed', PATHS['topology'], methods=['GET'])
    def get_topology(self, req, **_kwargs):
        return self._json(self.app.core.topology())

    @route('testbed', PATHS['tables'], methods=['GET'])
    def get_tables(self, req, **_kwargs):
        return self._json(self.app.core.table_rows())

    @route('testbed', PATHS['timeline'], methods=['GET'])
    def get_timeline(self, req, **_kwargs):
        return self._json(self.app.core.timeline)

    @route('testbed', PATHS['circuits'], methods=['GET'])
    def get_circuits(self, req, **_kwargs):
        return self._json(self.app.core.circuit_rows())

    @route('testbed', PATHS['circuits'], methods=['POST'])
    def post_circuit(self, req, **_kwargs):
        try:
            body = json.loads(req.body or b'{}')
            circuit = self.app.reserve(str(body['src']), str(body['dst']), float(body['rate']))
        except (KeyError, ValueError, TypeError):
            return self._json({'error': 'expected JSON {"src": host, "dst": host, "rate": bits/s}'}, 400)
        except AdmissionError as refused:
            return self._json({'error': str(refused)}, 409)
        return self._json({'id': circuit.id, 'src': circuit.src, 'dst': circuit.dst, 'rate': circuit.rate,
                           'path': list(circuit.path)})

    @route('testbed', PATHS['circuit'], methods=['DELETE'])
    def delete_circuit(self, req, circuit_id, **_kwargs):
        try:
            circuit = self.app.teardown(circuit_id)
        except AdmissionError as missing:
            return self._json({'error': str(missing)}, 404)
        return self._json({'id': circuit.id, 'torn_down': True})
