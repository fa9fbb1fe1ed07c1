"""Ryu app: the testbed's control plane. OpenFlow switches become routers with computed forwarding tables.

A thin shim, as in FAUCET: the computation is ``testbed.control.routing`` (pure), the flows are
``testbed.control.flows`` (pure); this app only turns events into calls and flow specs into FlowMods.

- Reads the plan (``TESTBED_PLAN``, a JSON file written by the testbed): switches, attachments, planned links.
- Discovers links with LLDP (``ryu.topology``, run with ``--observe-links``); once every planned switch is connected
  and every planned link discovered, computes all tables and installs them proactively, then reports ready.
- Answers ARP and IPv6 neighbour solicitations for the hosts' gateway addresses; decrements TTL / hop limit at every
  hop and answers expired packets with ICMP time exceeded from the switch's own address (traceroute shows one hop
  per switch). Routed traffic never reaches the controller; packet-ins are counted by kind.
- On a link failure (PortStatus, or LLDP timeout) it recomputes and pushes only the changed entries, and records a
  timeline: event received, computation done, FlowMods sent, barrier acknowledged.
- REST: ``/testbed/status``, ``/testbed/topology``, ``/testbed/tables``, ``/testbed/timeline`` (JSON).
- Circuits (the lecture's reservations): ``POST /testbed/circuits {"src", "dst", "rate"}`` admits a circuit on a
  path with enough unreserved capacity (or refuses with the reason, HTTP 409), installs its own entries, and polices
  best effort on its links with OpenFlow meters at the capacity left over; ``DELETE /testbed/circuits/ID`` frees
  it; a link failure tears down the circuits that crossed it (recorded in the timeline).
"""
import collections
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

from testbed.control import ofwire
from testbed.control.api import PATHS
from testbed.control.packets import answer
from testbed.control.circuits import AdmissionError, CircuitBook
from testbed.control.flows import (COOKIE_CIRCUIT, COOKIE_ROUTE, attachment_switch, attachments_from_plan,
                                  circuit_flows, gateway_owner, graph_from_plan, punt_flows, route_flows)
from testbed.control.routing import MODULE_ALGORITHM, RoutingError, compute_routes, table_diff
from testbed.system.usercode import UserCodeError, load_function

app_manager.require_app('ryu.topology.switches', api_style=True)

REST_NAME = 'testbed_router'


class TestbedRouter(app_manager.RyuApp):
    """Proactive shortest-path routing for the testbed's OpenFlow core."""

    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS = {'wsgi': WSGIApplication}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        with open(os.environ['TESTBED_PLAN']) as handle:
            self.plan = json.load(handle)
        self.algorithm = os.environ.get('TESTBED_ALGORITHM', self.plan.get('algorithm', 'link-state'))
        self.metric = os.environ.get('TESTBED_METRIC', self.plan.get('metric', 'hops'))
        self.name_of = {info['dpid']: name for name, info in self.plan['switches'].items()}
        self.planned_links = {self._link_key(link['a'], link['a_port'], link['b'], link['b_port']): link
                              for link in self.plan['links']}
        self.datapaths = {}
        self.links = {}           # key -> link dict, the links currently up (discovered)
        self.down_ports = set()   # (switch, port) of attachments whose port is down: their prefixes are withdrawn
        self.tables = {}          # switch -> [Route] as installed
        self.ready = False
        self.rounds = 0
        self.packet_ins = collections.Counter()
        self.timeline = []
        self.error = None         # why the last route computation failed, shown in /testbed/status
        self.held_routes = {}     # switch -> route entries it held when it connected (None: not known yet)
        self.pending_barriers = {}
        self.bundle_id = 0
        admission = os.environ.get('TESTBED_ADMISSION')
        self.book = CircuitBook(admission=load_function(admission, 'admit', 'admission module') if admission else None)
        # circuits outlive a controller restart: saved next to the plan, restored (and re-installed) on start
        self.circuits_file = os.path.join(os.path.dirname(os.path.abspath(os.environ['TESTBED_PLAN'])),
                                          'circuits.json') if os.environ.get('TESTBED_PLAN') else None
        if self.circuits_file and os.path.exists(self.circuits_file):
            with open(self.circuits_file) as handle:
                self.book.restore(json.load(handle))
        self.meters = {}          # switch -> {port: best-effort rate in bits/s} while circuits hold that link
        kwargs['wsgi'].register(RestApi, {REST_NAME: self})

    @staticmethod
    def _link_key(a, a_port, b, b_port):
        return tuple(sorted([(a, int(a_port)), (b, int(b_port))]))

    # -- switches ------------------------------------------------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev):
        datapath = ev.msg.datapath
        name = self.name_of.get(datapath.id)
        if name is None:
            self.logger.warning('switch %016x is not in the plan; ignoring it', datapath.id)
            return
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        reasons = (1 << ofp.OFPR_ACTION) | (1 << ofp.OFPR_INVALID_TTL)
        port_events = (1 << ofp.OFPPR_ADD) | (1 << ofp.OFPPR_DELETE) | (1 << ofp.OFPPR_MODIFY)
        datapath.send_msg(parser.OFPSetAsync(datapath, [reasons, 0], [port_events, port_events], [0, 0]))
        for spec in punt_flows(name, self.plan):
            self._send_flow(datapath, spec)
        # does it hold route entries already (a previous controller's)? Only then is reconciliation worth its
        # cost: reading back 200 entries per switch through Ryu's parser took 2 s on a 100-switch grid
        self.held_routes[name] = None
        datapath.send_msg(parser.OFPAggregateStatsRequest(datapath, 0, ofp.OFPTT_ALL, ofp.OFPP_ANY, ofp.OFPG_ANY,
                                                          COOKIE_ROUTE, 0xffffffffffffffff, parser.OFPMatch()))
        self.datapaths[name] = datapath
        self._maybe_start()

    # -- links ---------------------------------------------------------------------------------------------------
    @set_ev_cls(topo_event.EventLinkAdd)
    def link_add(self, ev):
        src, dst = ev.link.src, ev.link.dst
        a, b = self.name_of.get(src.dpid), self.name_of.get(dst.dpid)
        if a is None or b is None:
            return
        key = self._link_key(a, src.port_no, b, dst.port_no)
        if key in self.links:
            return
        planned = self.planned_links.get(key, {})
        self.links[key] = {'a': a, 'a_port': src.port_no, 'b': b, 'b_port': dst.port_no,
                           'delay': planned.get('delay', 0.0), 'bw': planned.get('bw')}
        if self.ready:
            self._reconverge(f'link {a}:{src.port_no}-{b}:{dst.port_no} up (LLDP)', time.time())
        else:
            self._maybe_start()

    @set_ev_cls(topo_event.EventLinkDelete)
    def link_delete(self, ev):
        src, dst = ev.link.src, ev.link.dst
        a, b = self.name_of.get(src.dpid), self.name_of.get(dst.dpid)
        if a and b:
            self._link_down(self._link_key(a, src.port_no, b, dst.port_no), 'LLDP timeout', time.time())

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def port_status(self, ev):
        received = time.time()
        msg = ev.msg
        ofp = msg.datapath.ofproto
        name = self.name_of.get(msg.datapath.id)
        down = msg.reason == ofp.OFPPR_DELETE or bool(msg.desc.state & ofp.OFPPS_LINK_DOWN)
        if name is None:
            return
        port = (name, msg.desc.port_no)
        if any((a['switch'], a['port']) == port for a in self.plan['attachments']):
            if down != (port in self.down_ports):  # an attachment came or went: withdraw or restore its prefixes
                (self.down_ports.add if down else self.down_ports.discard)(port)
                if self.ready:
                    self._reconverge(f'attachment port {name}:{msg.desc.port_no} {"down" if down else "up"} '
                                     f'(PortStatus)', received)
            return
        if not down:
            return
        for key in [key for key in self.links if (name, msg.desc.port_no) in key]:
            self._link_down(key, f'port {name}:{msg.desc.port_no} down (PortStatus)', received)

    def _link_down(self, key, why, received):
        link = self.links.pop(key, None)
        if link is None or not self.ready:
            return
        torn = self.book.link_failed(link['a'], link['b'])
        if torn:
            self._save_circuits()
        for circuit in torn:
            self._delete_circuit_flows(circuit)
        self._reconverge(why, received)
        if torn:
            self.timeline[-1]['circuits_torn_down'] = [circuit.id for circuit in torn]
            self._apply_reservations()

    # -- computing and installing --------------------------------------------------------------------------------
    def _maybe_start(self):
        if self.ready or set(self.datapaths) != set(self.plan['switches']):
            return
        if not set(self.planned_links) <= set(self.links):
            return
        self._reconverge('initial: all switches connected, all links discovered', time.time())
        if self.book.circuits:  # restored after a restart: the switches kept them; install again to be sure
            graph = graph_from_plan(self.plan, links=list(self.links.values()))
            for circuit in self.book.circuits.values():
                for switch, specs in circuit_flows(circuit, self.plan, graph).items():
                    for spec in specs:
                        self._send_flow(self.datapaths[switch], spec)
            self._apply_reservations()
        self.ready = True
        for name, datapath in self.datapaths.items():  # reconcile with what a previous controller left
            if self.held_routes.get(name) == 0:
                continue  # it held no route entries before this controller's: nothing can be stale
            parser, ofp = datapath.ofproto_parser, datapath.ofproto
            datapath.send_msg(parser.OFPFlowStatsRequest(datapath, table_id=ofp.OFPTT_ALL, out_port=ofp.OFPP_ANY,
                                                         out_group=ofp.OFPG_ANY, cookie=COOKIE_ROUTE,
                                                         cookie_mask=0xffffffffffffffff))

    @staticmethod
    def _flow_key(priority, fields):
        """What identifies a route entry: its priority and destination match (masks as tuples)."""
        return (priority,) + tuple((key, tuple(fields[key]) if isinstance(fields[key], (list, tuple)) else fields[key])
                                   for key in ('eth_type', 'ipv4_dst', 'ipv6_dst') if key in fields)

    @set_ev_cls(ofp_event.EventOFPAggregateStatsReply, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def aggregate_stats(self, ev):
        name = self.name_of.get(ev.msg.datapath.id)
        if name is not None and not self.ready:
            self.held_routes[name] = ev.msg.body.flow_count

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def flow_stats(self, ev):
        """Delete route entries the switch holds but the current tables do not (left by an earlier controller)."""
        datapath = ev.msg.datapath
        name = self.name_of.get(datapath.id)
        if name is None:
            return
        wanted = {self._flow_key(spec.priority, dict(spec.match))
                  for spec in route_flows(name, self.tables.get(name, []), self.plan)}
        parser, ofp = datapath.ofproto_parser, datapath.ofproto
        stale = 0
        for stat in ev.msg.body:
            if self._flow_key(stat.priority, dict(stat.match.items())) not in wanted:
                datapath.send_msg(parser.OFPFlowMod(datapath=datapath, cookie=COOKIE_ROUTE, priority=stat.priority,
                                                    command=ofp.OFPFC_DELETE_STRICT, out_port=ofp.OFPP_ANY,
                                                    out_group=ofp.OFPG_ANY, match=stat.match))
                stale += 1
        if stale:
            self.logger.info('%s: removed %d stale route entries', name, stale)

    def _compute(self):
        graph = graph_from_plan(self.plan, links=list(self.links.values()))
        algorithm = self.algorithm
        if algorithm.startswith(MODULE_ALGORITHM):  # a lab's routing module: loaded again for every computation
            try:
                algorithm = load_function(algorithm[len(MODULE_ALGORITHM):], 'next_hops', 'routing module')
            except UserCodeError as exc:
                raise RoutingError(str(exc)) from None
        return compute_routes(graph, attachments_from_plan(self.plan, self.down_ports), algorithm, self.metric)

    def _reconverge(self, why, received):
        entry = {'event': why, 'received': received}
        try:
            result = self._compute()
        except RoutingError as exc:  # e.g. a user's routing module (lab 2) failed: say so instead of hanging
            self.error = f'route computation failed ({why}): {exc}'
            self.logger.error(self.error)
            return
        self.error = None
        entry['computed'] = time.time()
        self.rounds = result.rounds
        flow_mods = 0
        for switch, routes in result.tables.items():
            datapath = self.datapaths.get(switch)
            if datapath is None:
                continue
            changed, removed = table_diff(self.tables.get(switch, []), routes)
            old = {route.prefix: route for route in self.tables.get(switch, [])}
            meters = self._meter_ids(switch)
            # the switch's whole change as one buffer: FlowMods packed by testbed.control.ofwire (byte for byte
            # what Ryu's parser would send, ~50x faster) in one atomic bundle (Open vSwitch applies it as one
            # transaction, ~7x faster than one by one, and no packet sees half a table), then a barrier whose reply
            # marks it acknowledged
            messages = [ofwire.flow_mod(spec, self._next_xid(datapath))
                        for spec in route_flows(switch, changed, self.plan, meters)]
            messages += [ofwire.flow_mod(spec, self._next_xid(datapath), delete=True)
                         for spec in route_flows(switch, [old[prefix] for prefix in removed], self.plan, meters)]
            self.tables[switch] = routes
            if messages:
                xid = self._next_xid(datapath)
                entry['waiting'] = entry.get('waiting', 0) + 1
                self.pending_barriers[(datapath.id, xid)] = entry
                self.bundle_id = (self.bundle_id + 1) & 0xffffffff
                transaction = ofwire.bundle(self.bundle_id, messages, lambda: self._next_xid(datapath))
                datapath.send(transaction + ofwire.barrier(xid))
                flow_mods += len(messages)
        entry.update(sent=time.time(), flow_mods=flow_mods, algorithm=result.algorithm, rounds=result.rounds)
        if not entry.get('waiting'):
            entry['acknowledged'] = entry['sent']
        self.timeline.append(entry)
        self.logger.info('reconverged (%s): %d FlowMods', why, flow_mods)

    # -- circuits (reservations) -----------------------------------------------------------------------------------
    def _meter_ids(self, switch):
        return {port: port for port in self.meters.get(switch, {})}  # one meter per policed port, id = port

    def reserve(self, src, dst, rate):
        """Admit a circuit between two hosts, install it, police best effort on its links; return it."""
        src_switch, dst_switch = attachment_switch(self.plan, src), attachment_switch(self.plan, dst)
        if src_switch is None or dst_switch is None:
            raise AdmissionError(f'unknown host {src if src_switch is None else dst!r}')
        graph = graph_from_plan(self.plan, links=list(self.links.values()))
        circuit = self.book.reserve(graph, src_switch, dst_switch, rate, src, dst)
        self._save_circuits()
        for switch, specs in circuit_flows(circuit, self.plan, graph).items():
            for spec in specs:
                self._send_flow(self.datapaths[switch], spec)
        self._apply_reservations()
        self.logger.info('circuit %d admitted: %s -> %s, %.1f Mb/s via %s', circuit.id, src, dst, rate / 1e6,
                         '-'.join(circuit.path))
        return circuit

    def _save_circuits(self):
        if self.circuits_file:
            tmp = self.circuits_file + '.tmp'
            with open(tmp, 'w') as handle:
                json.dump(self.book.rows(), handle)
            os.replace(tmp, self.circuits_file)

    def teardown(self, circuit_id):
        circuit = self.book.teardown(circuit_id)
        self._save_circuits()
        self._delete_circuit_flows(circuit)
        self._apply_reservations()
        return circuit

    def _delete_circuit_flows(self, circuit):
        for switch in circuit.path:
            datapath = self.datapaths.get(switch)
            if datapath is None:
                continue
            parser, ofp = datapath.ofproto_parser, datapath.ofproto
            datapath.send_msg(parser.OFPFlowMod(datapath=datapath, cookie=COOKIE_CIRCUIT + circuit.id,
                                                cookie_mask=0xffffffffffffffff, table_id=ofp.OFPTT_ALL,
                                                command=ofp.OFPFC_DELETE, out_port=ofp.OFPP_ANY,
                                                out_group=ofp.OFPG_ANY, match=parser.OFPMatch()))

    def _apply_reservations(self):
        """Police best effort on every link a circuit holds, at the capacity the circuits leave over."""
        graph = graph_from_plan(self.plan, links=list(self.links.values()))
        for switch, datapath in self.datapaths.items():
            wanted = {}
            for neighbour in graph[switch]:
                left = self.book.residual(graph, switch, neighbour)  # None: a link without bw, nothing to police
                if self.book.reserved(switch, neighbour) > 0 and left is not None:
                    wanted[graph[switch][neighbour]['ports'][switch]] = max(1e3, left)
            current = self.meters.get(switch, {})
            if wanted == current:
                continue
            parser, ofp = datapath.ofproto_parser, datapath.ofproto
            for port, rate in wanted.items():
                kbps = int(rate / 1e3)
                band = parser.OFPMeterBandDrop(rate=kbps, burst_size=max(16, kbps // 50))  # ~20 ms of burst
                command = ofp.OFPMC_MODIFY if port in current else ofp.OFPMC_ADD
                datapath.send_msg(parser.OFPMeterMod(datapath, command=command,
                                                     flags=ofp.OFPMF_KBPS | ofp.OFPMF_BURST, meter_id=port,
                                                     bands=[band]))
            self.meters[switch] = wanted
            ports = set(wanted) | set(current)
            for spec in route_flows(switch, [r for r in self.tables.get(switch, []) if r.port in ports], self.plan,
                                    self._meter_ids(switch)):
                self._send_flow(datapath, spec)
            for port in set(current) - set(wanted):
                datapath.send_msg(parser.OFPMeterMod(datapath, command=ofp.OFPMC_DELETE, meter_id=port))

    def circuit_rows(self):
        graph = graph_from_plan(self.plan, links=list(self.links.values()))
        return {'circuits': [{'id': c.id, 'src': c.src, 'dst': c.dst, 'rate': c.rate, 'path': list(c.path)}
                             for c in self.book.circuits.values()],
                'links': [{'link': f'{a}-{b}', 'capacity': data.get('bw'), 'reserved': self.book.reserved(a, b)}
                          for a, b, data in graph.edges(data=True) if data.get('bw')]}

    @staticmethod
    def _next_xid(datapath):
        """The next transaction id, from the same counter Ryu's own ``set_xid`` uses."""
        datapath.xid = (datapath.xid + 1) & datapath.ofproto.MAX_XID
        return datapath.xid

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def barrier_reply(self, ev):
        entry = self.pending_barriers.pop((ev.msg.datapath.id, ev.msg.xid), None)
        if entry is not None:
            entry['waiting'] -= 1
            entry.setdefault('first_acknowledged', time.time())
            if entry['waiting'] == 0:
                entry['acknowledged'] = time.time()

    def _send_flow(self, datapath, spec):
        datapath.send(ofwire.flow_mod(spec, self._next_xid(datapath)))

    # -- packet-ins: gateways and expired packets ----------------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        """ARP and neighbour solicitations for gateways, and expired packets: answered as the router would."""
        msg, datapath = ev.msg, ev.msg.datapath
        name = self.name_of.get(datapath.id)
        if name is None:
            return
        expired = msg.reason == datapath.ofproto.OFPR_INVALID_TTL
        kind, reply = answer(bytes(msg.data), self.plan['switches'][name], expired,
                             lambda address: gateway_owner(self.plan, name, address) is not None)
        if kind != 'lldp':  # link discovery's own packets are ryu.topology's business
            self.packet_ins[kind] += 1
        if reply:
            parser, ofp = datapath.ofproto_parser, datapath.ofproto
            datapath.send_msg(parser.OFPPacketOut(datapath=datapath, buffer_id=ofp.OFP_NO_BUFFER,
                                                  in_port=ofp.OFPP_CONTROLLER,
                                                  actions=[parser.OFPActionOutput(msg.match['in_port'])], data=reply))

    # -- REST ----------------------------------------------------------------------------------------------------
    def status(self):
        """``ready`` once every table is installed: the initial FlowMods acknowledged by every switch's barrier."""
        installed = self.ready and bool(self.timeline) and 'acknowledged' in self.timeline[0]
        return {'ready': installed, 'switches': sorted(self.datapaths), 'expected_switches': len(self.plan['switches']),
                'links_up': len(self.links), 'planned_links': len(self.planned_links), 'algorithm': self.algorithm,
                'metric': self.metric, 'rounds': self.rounds, 'packet_ins': dict(self.packet_ins),
                'error': self.error}

    def topology(self):
        return {'switches': {name: {'dpid': info['dpid'], 'connected': name in self.datapaths}
                             for name, info in self.plan['switches'].items()},
                'links': sorted(self.links.values(), key=lambda link: (link['a'], link['a_port'])),
                'attachments': self.plan['attachments']}

    def table_rows(self):
        return {switch: [{'prefix': r.prefix, 'port': r.port, 'neighbour': r.neighbour, 'cost': r.cost}
                         for r in routes] for switch, routes in self.tables.items()}


class RestApi(ControllerBase):
    """GET /testbed/status, /testbed/topology, /testbed/tables, /testbed/timeline."""

    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app = data[REST_NAME]

    @staticmethod
    def _json(value):
        return Response(content_type='application/json', charset='utf-8', body=json.dumps(value, indent=1))

    @route('testbed', PATHS['status'], methods=['GET'])
    def get_status(self, req, **_kwargs):
        return self._json(self.app.status())

    @route('testbed', PATHS['topology'], methods=['GET'])
    def get_topology(self, req, **_kwargs):
        return self._json(self.app.topology())

    @route('testbed', PATHS['tables'], methods=['GET'])
    def get_tables(self, req, **_kwargs):
        return self._json(self.app.table_rows())

    @route('testbed', PATHS['timeline'], methods=['GET'])
    def get_timeline(self, req, **_kwargs):
        return self._json(self.app.timeline)

    @route('testbed', PATHS['circuits'], methods=['GET'])
    def get_circuits(self, req, **_kwargs):
        return self._json(self.app.circuit_rows())

    @route('testbed', PATHS['circuits'], methods=['POST'])
    def post_circuit(self, req, **_kwargs):
        try:
            body = json.loads(req.body or b'{}')
            circuit = self.app.reserve(str(body['src']), str(body['dst']), float(body['rate']))
        except (KeyError, ValueError, TypeError):
            return self._json_status({'error': 'expected JSON {"src": host, "dst": host, "rate": bits/s}'}, 400)
        except AdmissionError as refused:
            return self._json_status({'error': str(refused)}, 409)
        return self._json({'id': circuit.id, 'src': circuit.src, 'dst': circuit.dst, 'rate': circuit.rate,
                           'path': list(circuit.path)})

    @route('testbed', PATHS['circuit'], methods=['DELETE'])
    def delete_circuit(self, req, circuit_id, **_kwargs):
        try:
            circuit = self.app.teardown(circuit_id)
        except AdmissionError as missing:
            return self._json_status({'error': str(missing)}, 404)
        return self._json({'id': circuit.id, 'torn_down': True})

    @staticmethod
    def _json_status(value, status):
        return Response(content_type='application/json', charset='utf-8', body=json.dumps(value), status=status)

