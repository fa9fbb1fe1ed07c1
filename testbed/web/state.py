"""What the web view reads from a running network, and the few things it does to it, all from the run's folder.

A network writes ``network.json`` (nodes with their shell's PID, links with both ends' interfaces and shaping) as
it starts, ``plan.json`` and ``controller.json`` with a controller, ``tunnels.json`` with tunnel endpoints. From
those, in any process (the one that runs the network or another terminal's ``testbed web``):

- interface counters: ``/proc/PID/net/dev`` is the counters of PID's network namespace, so one read per namespace
  gives every interface there (the switches' ports share the root namespace's);
- forwarding tables: read from each switch (``testbed tables``), named by the plan;
- the control plane's timeline and circuits: the controller's REST API (``testbed.control.api``);
- tunnel and translator counters: as ``testbed tunnels`` reads them;
- link state: each end's flags (up, carrier) from a socket in its namespace (``testbed.system.netns``), so a link
  set down elsewhere (Mininet's CLI, a test) shows too; the delay lines' counters from their processes' stats files;
- a link down or up: ``ip link set`` on both ends, inside each end's namespace (``nsenter``), as Mininet's
  ``configLinkStatus`` does; names come from the network's own record, never from the request into a shell;
- ping and iperf3 between two hosts (``testbed.measure.probes``, run through ``NodeShell``), and captures on a
  link (tcpdump in one end's namespace, bounded by ``timeout`` in time and by a packet count, into the run folder).
"""
import json
import os
import subprocess
import threading
import time
from typing import Dict, List, Optional

from testbed.control.api import ControllerApi, ControllerUnreachable
from testbed.control.tables import named_rows, read_switch
from testbed.errors import TestbedError
from testbed.measure.probes import ping_rtts, rtt_summary, tcp_goodput
from testbed.system.netns import NamespaceSockets
from testbed.system.runstate import list_runs
from testbed.transition.status import tunnel_rows
from testbed.web.view import (CAPTURE_PACKETS, POLL_S, RESULT_TYPES, Counters, Sample, WebRequestError, bounded,
                              find_link, layout, link_loads, link_up, names, node_kind, parse_net_dev, parse_qdiscs,
                              result_file)

SAMPLE_S = 1.0          # the page's load figures: one sample a second while someone looks
IDLE_S = 5.0            # no request for this long: stop sampling (the page is closed)


class NodeShell:
    """A node of a running network from another process, with the part of Mininet's node API the probes use:
    ``cmd`` runs a command line inside its network namespace, ``popen`` a program, ``IP`` its address."""

    def __init__(self, name: str, record: Dict):
        self.name, self.pid, self.ip = name, record['pid'], record.get('ip')

    def IP(self) -> Optional[str]:   # noqa: N802 - Mininet's name
        return self.ip

    def cmd(self, command: str) -> str:   # commands the probes build from the network's own addresses
        return subprocess.run(['nsenter', '-t', str(self.pid), '-n', 'sh', '-c', command], capture_output=True,
                              text=True).stdout

    def popen(self, args, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(['nsenter', '-t', str(self.pid), '-n', *args], **kwargs)


class NetworkView:
    """One running network as the web view sees it (``attach`` finds it)."""

    def __init__(self, run_id: str, run_dir: str, network: Dict, results: str = 'results'):
        self.run_id, self.run_dir, self.network = run_id, run_dir, network
        self.results = os.path.abspath(results)   # the experiments' results folder, browsable from the page
        self.links = network['links']
        self.lock = threading.Lock()
        self.samples: List[Sample] = []   # the last two
        self.interfaces = NamespaceSockets()
        self.last_request = 0.0
        self.positions = None
        self.captures: Dict[str, Dict] = {}

    @classmethod
    def attach(cls, run_id: Optional[str] = None, results: str = 'results') -> 'NetworkView':
        """The running network (the one, or the one named ``run_id``)."""
        runs = [(name, path) for name, path, alive in list_runs()
                if alive and os.path.exists(os.path.join(path, 'network.json')) and run_id in (None, name)]
        if not runs:
            raise TestbedError('no running network' + (f' named {run_id!r}' if run_id else '') + ' to view (start '
                               'one: sudo .venv/bin/testbed run star --controller; or add --web to testbed run)')
        if len(runs) > 1:
            raise TestbedError(f'several networks run ({", ".join(name for name, _ in runs)}): choose one with --run')
        (run, run_dir), = runs
        with open(os.path.join(run_dir, 'network.json')) as handle:
            return cls(run, run_dir, json.load(handle), results)

    def _file(self, name: str) -> Optional[Dict]:
        try:
            with open(os.path.join(self.run_dir, name)) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    # -- what the page draws -------------------------------------------------------------------------------
    def topology(self) -> Dict:
        nodes = self.network['nodes']
        if self.positions is None:   # the nodes and links never change: placed once
            self.positions = layout(sorted(nodes), [(link['a'], link['b']) for link in self.links])
        positions, states = self.positions, self.read_states()
        return {'run': self.run_id, 'poll_s': POLL_S,
                'nodes': [{'name': name, 'kind': node_kind(node['classes']), 'position': positions[name]}
                          for name, node in sorted(nodes.items())],
                'links': [{**{key: link[key] for key in ('id', 'a', 'b', 'a_intf', 'b_intf', 'bw', 'delay')},
                           'up': link_up(states[link['id']])} for link in self.links]}

    def _per_namespace(self, names, read) -> Dict[str, Dict]:
        """{node: read(pid)} for the nodes ``names``, calling ``read`` once per network namespace (the switches
        share the root's); {} for a node that is gone (the network is stopping) or a read that failed."""
        by_namespace: Dict[str, Dict] = {}
        results = {}
        for name in names:
            pid = self.network['nodes'][name]['pid']
            try:
                namespace = os.readlink(f'/proc/{pid}/ns/net')
                if namespace not in by_namespace:
                    by_namespace[namespace] = read(pid)
                results[name] = by_namespace[namespace]
            except OSError:
                results[name] = {}
        return results

    def read_counters(self) -> Dict[str, Dict[str, Counters]]:
        """{node: {interface: counters}}: ``/proc/PID/net/dev``, one read per namespace."""
        def net_dev(pid):
            with open(f'/proc/{pid}/net/dev') as handle:
                return parse_net_dev(handle.read())
        return self._per_namespace(self.network['nodes'], net_dev)

    def read_queues(self) -> Dict[str, Dict[str, Dict[str, int]]]:
        """{node: {interface: root qdisc}} for the nodes that send into a rate-limited link: one ``tc`` per
        namespace."""
        def qdiscs(pid):
            done = subprocess.run(['nsenter', '-t', str(pid), '-n', 'tc', '-s', '-j', 'qdisc', 'show'],
                                  capture_output=True, text=True)
            return parse_qdiscs(done.stdout) if done.returncode == 0 else {}
        return self._per_namespace({link[end] for link in self.links if link.get('bw') for end in ('a', 'b')},
                                   qdiscs)

    def read_lines(self) -> Dict[str, Dict]:
        """{link id: its delay line's counters and when they were written} for the links with a delay line (the
        userspace path): each delay-line process rewrites its stats file, all its links, twice a second."""
        files: Dict[str, Optional[Dict]] = {}
        lines = {}
        for link in self.links:
            where = link.get('delay_line')
            if not where:
                continue
            if where['stats'] not in files:
                try:
                    with open(where['stats']) as handle:
                        files[where['stats']] = json.load(handle)
                except (OSError, ValueError):
                    files[where['stats']] = None   # not written yet
            written = files[where['stats']]
            if written and where['key'] in written.get('links', {}):
                lines[link['id']] = {'at': written['at'], **written['links'][where['key']]}
        return lines

    def read_states(self) -> Dict[str, Dict[str, Optional[str]]]:
        """{link id: {'a': state, 'b': state}}, read from the interfaces (whoever set them down or up)."""
        nodes = self.network['nodes']
        return {link['id']: {end: self.interfaces.state(nodes[link[end]]['pid'], link[f'{end}_intf'])
                             for end in ('a', 'b')} for link in self.links}

    def sample(self) -> None:
        """Take a sample of every counter (the sampler thread calls this once a second while the page is open)."""
        reading = Sample(time.monotonic(), self.read_counters(), self.read_queues(), self.read_lines(),
                         self.read_states())
        with self.lock:   # a sample from before a pause would average the load over the pause: start afresh
            fresh = [sample for sample in self.samples if reading.at - sample.at < 2.5 * SAMPLE_S]
            self.samples = (fresh + [reading])[-2:]

    def loads(self) -> Dict:
        self.last_request = time.monotonic()
        with self.lock:
            samples = list(self.samples)
        if len(samples) < 2:
            return {'seconds': None, 'links': []}
        before, after = samples
        return {'seconds': round(after.at - before.at, 3), 'age': round(time.monotonic() - after.at, 3),
                'links': link_loads(self.links, before, after)}

    def sampler(self, stop: threading.Event) -> None:
        """Sample while someone asked for loads in the last IDLE_S seconds; idle otherwise."""
        while not stop.wait(SAMPLE_S):
            if time.monotonic() - self.last_request < IDLE_S:
                self.sample()

    def tables(self) -> Dict:
        plan = self._file('plan.json')
        if not plan:
            return {'tables': {}, 'note': 'no controller in this network: its switches have no forwarding tables'}
        tables = {}
        for switch in sorted(plan['switches']):
            try:
                tables[switch] = named_rows(plan, switch, read_switch(switch))
            except TestbedError as exc:
                tables[switch] = {'error': str(exc)}
        return {'tables': tables}

    def control(self) -> Dict:
        info = self._file('controller.json')
        if not info:
            return {'timeline': [], 'circuits': [], 'note': 'no controller in this network'}
        api = ControllerApi(info['rest_port'])
        try:
            timeline, circuits = api.timeline(), api.circuits()
        except ControllerUnreachable as exc:
            return {'timeline': [], 'circuits': [], 'note': str(exc)}
        return {'timeline': timeline, 'circuits': circuits}

    def tunnels(self) -> Dict:
        if not os.path.exists(os.path.join(self.run_dir, 'tunnels.json')):
            return {'tunnels': {}}
        return {'tunnels': tunnel_rows(self.run_id)[1]}

    # -- what the page does ----------------------------------------------------------------------------------
    def set_link(self, a: str, b: str, up: bool) -> Dict:
        """Take the link between nodes ``a`` and ``b`` down or up (both ends), as Mininet's configLinkStatus."""
        link = find_link(self.links, a, b)
        nodes = self.network['nodes']
        for node, intf in ((link['a'], link['a_intf']), (link['b'], link['b_intf'])):
            done = subprocess.run(['nsenter', '-t', str(nodes[node]['pid']), '-n', 'ip', 'link', 'set', 'dev', intf,
                                   'up' if up else 'down'], capture_output=True, text=True)
            if done.returncode != 0:
                raise WebRequestError(f'{node}: {intf} could not be set {"up" if up else "down"}: '
                                      f'{done.stderr.strip()}', 409)
        return {'link': link['id'], 'up': up}

    def reserve(self, body) -> tuple:
        """Reserve a circuit: ``body`` is {src, dst, rate in bits/s}; (status, answer) as the controller gives."""
        if not (isinstance(body, dict) and isinstance(body.get('src'), str) and isinstance(body.get('dst'), str)
                and isinstance(body.get('rate'), (int, float)) and body['rate'] > 0):
            raise WebRequestError('a circuit request is {"src": HOST, "dst": HOST, "rate": bits/s > 0}')
        return self._controller().reserve(body['src'], body['dst'], body['rate'])

    def teardown(self, circuit_id: str) -> tuple:
        if not circuit_id.isdigit():
            raise WebRequestError(f'a circuit id is a number, not {circuit_id!r}', 404)
        return self._controller().teardown(circuit_id)

    def _controller(self) -> ControllerApi:
        info = self._file('controller.json')
        if not info:
            raise WebRequestError('no controller in this network: no circuits', 409)
        return ControllerApi(info['rest_port'])

    # -- measurements and captures ------------------------------------------------------------------------------
    def _host(self, name: str) -> NodeShell:
        record = self.network['nodes'].get(name)
        if record is None:
            raise WebRequestError(f'no node {name!r} in this network', 404)
        if not (record.get('ip') or record.get('ip6')):
            raise WebRequestError(f'{name} has no address to measure with (a switch?)', 400)
        return NodeShell(name, record)

    def _address(self, name: str) -> str:
        record = self.network['nodes'][name]
        return record.get('ip') or record['ip6']

    def ping(self, body) -> Dict:
        src, dst = (self._host(name) for name in names(body, 'src', 'dst'))
        count = bounded(body, 'count', 'count', 5)
        rtts = ping_rtts(src, self._address(dst.name), count=count, interval=0.2, warmup=False)
        return {'src': src.name, 'dst': dst.name, 'sent': count, 'received': len(rtts), 'rtt_ms': rtt_summary(rtts)}

    def iperf(self, body) -> Dict:
        src, dst = (self._host(name) for name in names(body, 'src', 'dst'))
        seconds = bounded(body, 'seconds', 'iperf seconds', 3)
        goodput = tcp_goodput(src, dst, seconds=seconds, address=self._address(dst.name))
        return {'src': src.name, 'dst': dst.name, 'seconds': seconds, 'goodput_bps': goodput}

    def capture(self, body) -> Dict:
        """Start a capture on a link, at its first end: ``timeout`` ends it, whatever happens to this process."""
        a, b = names(body, 'a', 'b')
        link = find_link(self.links, a, b)
        seconds = bounded(body, 'seconds', 'seconds', 5)
        capture_id = str(len(self.captures) + 1)
        path = os.path.join(self.run_dir, f'capture-{capture_id}.pcap')
        pid = self.network['nodes'][link['a']]['pid']
        process = subprocess.Popen(['nsenter', '-t', str(pid), '-n', 'timeout', str(seconds), 'tcpdump', '-i',
                                    link['a_intf'], '-s', '0', '-U', '-c', str(CAPTURE_PACKETS), '-w', path],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.captures[capture_id] = {'id': capture_id, 'link': link['id'], 'interface': link['a_intf'],
                                     'seconds': seconds, 'path': path, 'process': process}
        return self._capture_state(self.captures[capture_id])

    @staticmethod
    def _capture_state(capture: Dict) -> Dict:
        running = capture['process'].poll() is None
        size = os.path.getsize(capture['path']) if os.path.exists(capture['path']) else 0
        return {key: capture[key] for key in ('id', 'link', 'interface', 'seconds')} | {
            'state': 'running' if running else 'done', 'bytes': size, 'download': f'/api/captures/{capture["id"]}'}

    def capture_list(self) -> Dict:
        return {'captures': [self._capture_state(capture) for capture in self.captures.values()]}

    def capture_file(self, capture_id: str) -> str:
        """The pcap file of a finished capture (404 for an unknown one, 409 while it runs)."""
        capture = self.captures.get(capture_id)
        if capture is None:
            raise WebRequestError(f'no capture {capture_id!r}', 404)
        if capture['process'].poll() is None:
            raise WebRequestError(f'capture {capture_id} still runs ({capture["seconds"]} s)', 409)
        if not os.path.exists(capture['path']):
            raise WebRequestError(f'capture {capture_id} wrote nothing (the link was down?)', 404)
        return capture['path']

    def close(self) -> None:
        """Stop the captures still running and close the namespaces' sockets (once nothing samples)."""
        for capture in self.captures.values():
            if capture['process'].poll() is None:
                capture['process'].terminate()
                capture['process'].wait()
        self.interfaces.close()

    # -- the results folder -----------------------------------------------------------------------------------
    def results_listing(self) -> Dict[str, list]:
        """{folder: [file names]} of the results folder's runs (one level, the files it may serve)."""
        listing = {}
        try:
            folders = sorted(os.listdir(self.results), reverse=True)   # newest first: names start with the date
        except OSError:
            return {}
        for folder in folders:
            path = os.path.join(self.results, folder)
            if os.path.isdir(path):
                listing[folder] = sorted(name for name in os.listdir(path) if os.path.isfile(os.path.join(path, name))
                                         and name[name.rfind('.'):] in RESULT_TYPES)
        return listing

    def results_answer(self) -> Dict:
        return {'root': self.results, 'folders': [{'name': folder, 'files': files}
                                                  for folder, files in self.results_listing().items()]}

    def result(self, folder: str, name: str) -> tuple:
        """(content type, path) of one file the listing has."""
        content_type = result_file(self.results_listing(), folder, name)
        return content_type, os.path.join(self.results, folder, name)
