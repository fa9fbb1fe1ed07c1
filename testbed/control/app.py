"""The router app's body, for either controller runtime: Ryu 4.34 or os-ken 3.x (its maintained fork).

The two share their API under different package names (``ryu.*`` and ``os_ken.*``, ``RyuApp`` and ``OSKenApp``).
``router_app(runtime)`` builds the app's base class from a ``Runtime``, the few modules a shim imports from its
framework, so each shim in ``controllers/`` is only its imports and one class statement (the managers load an
app class from the module it is defined in). Every decision is ``testbed.control.core.RouterCore``; commands become
OpenFlow messages in ``testbed.control.openflow``; the REST API is ``testbed.control.rest``, served on
127.0.0.1:``TESTBED_REST_PORT`` by the runtime's own WSGI server.
"""
import json
import os
import time
from typing import Any, NamedTuple

from testbed.control.core import RouterCore, link_key
from testbed.control.openflow import CommandSender
from testbed.control.rest import RestApi
from testbed.system.usercode import load_function, routing_algorithm


class Runtime(NamedTuple):
    """The parts of a Ryu-family framework the router app uses."""
    app_base: type        # ryu.base.app_manager.RyuApp or os_ken.base.app_manager.OSKenApp
    ofp_event: Any        # the controller.ofp_event module
    handler: Any          # the controller.handler module (set_ev_cls, CONFIG_DISPATCHER, MAIN_DISPATCHER)
    ofproto_v1_3: Any     # the ofproto.ofproto_v1_3 module
    topology_event: Any   # the topology.event module (LLDP link discovery)
    hub: Any              # the lib.hub module (green threads, WSGIServer)


def _router_from_environment():
    """The core as the testbed's run configured it (environment variables set by RyuController)."""
    with open(os.environ['TESTBED_PLAN']) as handle:
        plan = json.load(handle)
    algorithm = os.environ.get('TESTBED_ALGORITHM', plan.get('algorithm', 'link-state'))
    admission = os.environ.get('TESTBED_ADMISSION')
    metric = os.environ.get('TESTBED_METRIC', plan.get('metric', 'hops'))
    return RouterCore(plan, routing_algorithm(algorithm), metric,
                      load_function(admission, 'admit', 'admission module') if admission else None,
                      time.time, algorithm, aggregate=bool(os.environ.get('TESTBED_AGGREGATE')))


def router_app(runtime: Runtime) -> type:
    """The router app's base class on ``runtime``: proactive routing for the testbed's OpenFlow core."""
    set_ev_cls = runtime.handler.set_ev_cls
    config, main = runtime.handler.CONFIG_DISPATCHER, runtime.handler.MAIN_DISPATCHER
    ofp_event, topology_event = runtime.ofp_event, runtime.topology_event

    class RouterApp(runtime.app_base):
        OFP_VERSIONS = [runtime.ofproto_v1_3.OFP_VERSION]

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.core = _router_from_environment()
            self.circuits_file = os.path.join(os.path.dirname(os.path.abspath(os.environ['TESTBED_PLAN'])),
                                              'circuits.json')
            if os.path.exists(self.circuits_file):  # a restarted controller keeps the circuits
                with open(self.circuits_file) as handle:
                    self.core.book.restore(json.load(handle))
            self.datapaths = {}
            self.sender = CommandSender()
            self.rest_port = int(os.environ.get('TESTBED_REST_PORT', '0'))

        def start(self):
            """Start the event loop and, with a REST port, the REST API on 127.0.0.1."""
            thread = super().start()
            if self.rest_port:
                server = runtime.hub.WSGIServer(('127.0.0.1', self.rest_port), RestApi(self))
                self.threads.append(runtime.hub.spawn(server.serve_forever))
            return thread

        # -- events to the core ----------------------------------------------------------------------------------
        @set_ev_cls(ofp_event.EventOFPSwitchFeatures, config)
        def switch_features(self, ev):
            name = self.core.name_of.get(ev.msg.datapath.id)
            if name is None:
                self.logger.warning('switch %016x is not in the plan; ignoring it', ev.msg.datapath.id)
                return
            self.datapaths[name] = ev.msg.datapath
            self._event(lambda: self.core.switch_connected(name))

        @set_ev_cls(topology_event.EventLinkAdd)
        def link_add(self, ev):
            a, b = (self.core.name_of.get(end.dpid) for end in (ev.link.src, ev.link.dst))
            if a and b:
                self._event(lambda: self.core.link_up(a, ev.link.src.port_no, b, ev.link.dst.port_no))

        @set_ev_cls(topology_event.EventLinkDelete)
        def link_delete(self, ev):
            a, b = (self.core.name_of.get(end.dpid) for end in (ev.link.src, ev.link.dst))
            if a and b:
                key = link_key(a, ev.link.src.port_no, b, ev.link.dst.port_no)
                self._event(lambda: self.core.link_down(key, 'LLDP timeout', time.time()))

        @set_ev_cls(ofp_event.EventOFPPortStatus, main)
        def port_status(self, ev):
            received, msg, ofp = time.time(), ev.msg, ev.msg.datapath.ofproto
            name = self.core.name_of.get(msg.datapath.id)
            down = msg.reason == ofp.OFPPR_DELETE or bool(msg.desc.state & ofp.OFPPS_LINK_DOWN)
            if name is not None:
                self._event(lambda: self.core.port_status(name, msg.desc.port_no, down, received))

        @set_ev_cls(ofp_event.EventOFPAggregateStatsReply, [config, main])
        def aggregate_stats(self, ev):
            name = self.core.name_of.get(ev.msg.datapath.id)
            if name is not None:
                self.core.route_count(name, ev.msg.body.flow_count)

        @set_ev_cls(ofp_event.EventOFPFlowStatsReply, main)
        def flow_stats(self, ev):
            name = self.core.name_of.get(ev.msg.datapath.id)
            if name is not None:
                held = [(stat.priority, dict(stat.match.items())) for stat in ev.msg.body]
                self._event(lambda: self.core.stale_routes(name, held))

        @set_ev_cls(ofp_event.EventOFPBarrierReply, main)
        def barrier_reply(self, ev):
            entry = self.sender.pending_barriers.pop((ev.msg.datapath.id, ev.msg.xid), None)
            if entry is not None:
                self.core.acknowledged(entry)

        @set_ev_cls(ofp_event.EventOFPPacketIn, main)
        def packet_in(self, ev):
            msg = ev.msg
            name = self.core.name_of.get(msg.datapath.id)
            if name is not None:
                expired = msg.reason == msg.datapath.ofproto.OFPR_INVALID_TTL
                self._event(lambda: self.core.packet_in(name, msg.match['in_port'], bytes(msg.data), expired))

        # -- the REST API's changes, run as events ---------------------------------------------------------------
        def reserve(self, src, dst, rate):
            circuit = self._event(lambda: self.core.reserve(src, dst, rate))
            self.logger.info('circuit %d admitted: %s -> %s, %.1f Mb/s via %s', circuit.id, src, dst, rate / 1e6,
                             '-'.join(circuit.path))
            return circuit

        def teardown(self, circuit_id):
            return self._event(lambda: self.core.teardown(circuit_id))

        # -- the core's commands to the switches -----------------------------------------------------------------
        def _event(self, call):
            """Run one core call, send its commands, stamp the timeline entries it made, keep the circuits on
            disk."""
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

    return RouterApp
