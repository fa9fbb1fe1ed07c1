"""Node types of the transition networks: a Linux router for the cores, and tunnel endpoints of every survey mode.

- ``Router``: addresses per interface, forwarding, static routes. With ``ipv6=False`` it forwards IPv4 only: the
  IPv4 Internet a tunnel has to cross (and IPv6 packets die there).
- ``TunnelEndpoint``: interface 0 faces the IPv4 network (``v4``, ``v4_gateway``); interfaces 1.. are IPv6 LANs
  (``lans``: one address per interface; an endpoint with LANs forwards IPv6, one without is a host). Its tunnel
  interface is configured by ``tunnel`` (``mode`` and that mode's keys, testbed.transition.tunnels) with the
  address ``tunnel_address``, and ``routes6`` (``ip -6 route add`` arguments) point into it.
- ``SixOverFourEndpoint``: the same for 6over4 (RFC 2529), always the userspace daemon.
- ``TunnelBroker`` and ``BrokerClient``: a tunnel broker that is also the tunnel server (RFC 3053), and hosts that
  ask it for their tunnel as the network starts.
- ``IsatapRouter`` and ``IsatapHost``: ISATAP router discovery (RFC 5214 section 8.3, ``discovery``): radvd on the
  router answers each host's solicitations; a host solicits every router of its potential router list with rdisc6
  and takes its global address and default route from the answers.

The tunnel interface is the kernel's sit device in that mode where the probe found sit (``kernel_commands``),
else ``testbed.transition.encapsulator`` on a TUN device of the same name; both carry the same addresses, routes,
MTU (1480) and outer headers, and both are gone with the node's namespace.
"""
import ipaddress
import json
import os
import shlex
import sys
import time
from typing import Dict, List

from mininet.node import Node

from testbed.errors import TestbedError
from testbed.network.nodes import configure
from testbed.sixtofour.addressing import TUNNEL_MTU
from testbed.sixtofour.nodes import tunnel_counters
from testbed.system import daemon
from testbed.transition.brokerd import PORT as BROKER_PORT
from testbed.transition.discovery import SOLICIT_WAIT_MS, SOLICITATIONS, radvd_config, read_advertisement
from testbed.transition.sixover4 import DEVICE as SIXOVER4_DEVICE, link_address
from testbed.transition.sixover4 import link_local as sixover4_link_local
from testbed.transition.tunnels import DEVICES, isatap_address, kernel_commands, mode_from_config


class Router(Node):
    """A Linux router: ``addresses`` one tuple of 'address/len' per interface, ``routes`` ('ip route add' or
    'ip -6 route add' arguments, the family told by the text), ``ipv6`` whether it forwards IPv6."""

    def config(self, addresses=(), routes=(), ipv6=True, **params):
        result = super().config(**params)
        configure(self, f'sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding={int(ipv6)}')
        if not ipv6:
            configure(self, 'sysctl -qw net.ipv6.conf.all.disable_ipv6=1')
        for intf, own in zip(self.intfList(), addresses):
            for address in own:
                family = '-6 ' if ':' in address else ''
                configure(self, f'ip {family}addr add {address} dev {intf}' + (' nodad' if family else ''))
        for route in routes:
            configure(self, f'ip {"-6 " if ":" in route else ""}route add {route}')
        return result


class TunnelEndpoint(Node):
    """A router or host with one tunnel interface of any survey mode (see the module docstring)."""

    def config(self, v4=None, v4_gateway=None, tunnel=None, tunnel_address=None, lans=(), routes6=('default',),
               **params):
        result = super().config(**params)
        if not (v4 and tunnel):
            raise TestbedError(f'{self.name}: a tunnel endpoint needs its IPv4 address (v4=) and a tunnel (tunnel=)')
        self.v4 = ipaddress.IPv4Interface(v4)
        self.tunnel = {**tunnel, 'local': str(self.v4.ip)}
        try:
            self.device = self.check_tunnel()   # refuses parameters that cannot work, before anything runs
        except TestbedError as exc:
            raise TestbedError(f'{self.name}: {exc}') from None
        self.tunnel_address = ipaddress.IPv6Interface(tunnel_address) if tunnel_address else None
        self.routes6 = list(routes6)
        self.tunnel_process = None
        self.tunnel_path = None
        wan = self.intfList()[0]
        configure(self, f'sysctl -qw net.ipv6.conf.all.forwarding={int(bool(lans))} net.ipv4.ip_forward=0')
        configure(self, f'ip addr flush dev {wan}')
        configure(self, f'ip addr add {self.v4} dev {wan}')
        if v4_gateway:
            configure(self, f'ip route add default via {v4_gateway} dev {wan}')
        for intf, lan in zip(self.intfList()[1:], lans):
            configure(self, f'ip -6 addr add {lan} dev {intf} nodad')
        return result

    def check_tunnel(self) -> str:
        """Check the tunnel's parameters (``TunnelConfigError`` says what cannot work); its device's name."""
        mode_from_config(self.tunnel)
        return DEVICES[self.tunnel['mode']]

    def start_tunnel(self, net):
        """Bring the tunnel device up: the kernel's sit in this mode, or the encapsulator."""
        self.tunnel_path = net.plan.tunnel
        if self.tunnel_path == 'kernel':
            for command in kernel_commands(self.tunnel, self.device):
                configure(self, command)
        else:
            self.start_daemon(net, 'testbed.transition.encapsulator', f'{self.tunnel["mode"]} encapsulator')

    def start_daemon(self, net, module, what):
        self.stats_path = net.run.path(f'encap-{self.name}.json')
        config = {**self.tunnel, 'name': self.name, 'device': self.device, 'mtu': TUNNEL_MTU,
                  'stats': self.stats_path}
        self.tunnel_process = daemon.start(self, module, config, net.run, f'{what} {self.name}')

    def start_services(self, net):
        self.start_tunnel(net)
        if self.tunnel_address:  # replace: a sit device with 'remote any' gives itself ::V4/96 (v4compat's own)
            configure(self, f'ip -6 addr replace {self.tunnel_address} dev {self.device} nodad')
        if self.tunnel['mode'] == 'isatap':   # sit gives itself fe80::5efe:V4; the encapsulator's TUN device does not
            configure(self, f'ip -6 addr replace {isatap_address("fe80::/64", self.v4.ip)}/64 dev {self.device} nodad')
        for route in self.routes6:  # a gateway (the BR's ::V4, a router's fe80::5efe:V4) is on the tunnel's link
            onlink = ' onlink' if ' via ' in f' {route} ' else ''
            configure(self, f'ip -6 route add {route} dev {self.device}{onlink}')

    def stop_services(self):
        daemon.stop(self.tunnel_process)
        self.tunnel_process = None

    def counters(self) -> Dict:
        """Encapsulated, decapsulated and dropped (by reason), on either path."""
        return tunnel_counters(self.tunnel_path, getattr(self, 'stats_path', None), self.cmd, self.device)

    def tunnel_record(self) -> Dict:
        return {'pid': self.pid, 'role': self.tunnel.get('role', self.tunnel['mode']), 'path': self.tunnel_path,
                'stats': getattr(self, 'stats_path', None), 'v4': str(self.v4.ip), 'mode': self.tunnel['mode'],
                'device': self.device}


class SixOverFourEndpoint(TunnelEndpoint):
    """A 6over4 host or router (RFC 2529, ``tunnel={'mode': '6over4'}``): its IPv4 network's multicast is its IPv6
    link. Linux has no 6over4, so it is always ``testbed.transition.sixover4d`` on a TAP device; its link-local
    address is fe80::V4 and ``tunnel_address`` its global one (prefix::V4)."""

    def check_tunnel(self) -> str:
        link_address(self.tunnel['local'])
        return SIXOVER4_DEVICE

    def start_tunnel(self, net):
        self.tunnel_path = 'userspace'
        self.start_daemon(net, 'testbed.transition.sixover4d', '6over4 interface')
        configure(self, f'ip route add 224.0.0.0/4 dev {self.intfList()[0]}')   # the IPv4 groups, on the LAN
        configure(self, f'ip -6 addr add {sixover4_link_local(self.tunnel["local"])}/64 dev {self.device} nodad')
        deadline = time.monotonic() + 3   # neighbours can find it once it listens to its solicited-node group
        while len(self.counters().get('groups', [])) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)


class TunnelBroker(Router):
    """A tunnel broker and its tunnel server (RFC 3053, ``testbed.transition.brokerd``): interface 0 on the IPv4
    Internet (``v4``), the others native IPv6; clients ask it for tunnels over HTTP on its IPv4 address; ``pools``
    may name the ``links`` and ``sites`` prefixes it allocates from."""

    serves_at_start = True   # its clients ask for their tunnels while the network starts

    def config(self, v4=None, pools=None, **params):
        if not v4:
            raise TestbedError(f'{self.name}: a tunnel broker needs its IPv4 address (v4=)')
        self.v4 = ipaddress.IPv4Interface(v4)
        self.pools = dict(pools or {})   # 'links' and 'sites' to allocate from (testbed.transition.broker.Broker)
        self.broker_process = None
        return super().config(**params)

    def start_services(self, net):
        self.broker_process = daemon.start(self, 'testbed.transition.brokerd', {
            'server_v4': str(self.v4.ip), 'path': net.plan.tunnel, 'port': BROKER_PORT,
            'stats_dir': net.run.path(''), **self.pools}, net.run, f'tunnel broker {self.name}')

    def stop_services(self):
        daemon.stop(self.broker_process)
        self.broker_process = None


class BrokerClient(TunnelEndpoint):
    """A host that asks the broker at ``broker`` for its tunnel when the network starts and applies the answer: a
    manually configured tunnel to the server, the link's address, a default route into it, and the site prefix's
    first address on its loopback (the prefix is routed to it)."""

    def config(self, broker=None, **params):
        if not broker:
            raise TestbedError(f'{self.name}: a tunnel broker client needs the broker\'s IPv4 address (broker=)')
        self.broker = str(ipaddress.IPv4Address(broker))
        return super().config(tunnel={'mode': 'manual', 'remote': self.broker}, **params)

    def start_services(self, net):
        status, answer = self.ask_broker('POST', {'client_v4': str(self.v4.ip)})
        if status not in (200, 201):
            raise TestbedError(f'{self.name}: the tunnel broker refused ({status}): {answer.get("error")}')
        self.allocation = answer
        self.tunnel = {**self.tunnel, 'remote': answer['server_v4']}
        self.tunnel_address = ipaddress.IPv6Interface(answer['client_address'])
        self.routes6 = ['default']
        super().start_services(net)
        site = ipaddress.IPv6Network(answer['prefix'])
        configure(self, f'ip -6 addr add {site.network_address + 1}/128 dev lo nodad')

    def ask_broker(self, method, body=None, path='/tunnels'):
        """One request to the broker from inside this node: (HTTP status, its JSON answer); status 0 when the
        broker did not answer."""
        script = ('import json, urllib.request, urllib.error\n'
                  f'body = {body!r}\n'
                  'data = None if body is None else json.dumps(body).encode()\n'
                  f'request = urllib.request.Request("http://{self.broker}:{BROKER_PORT}{path}", method="{method}", '
                  'data=data, headers={"Content-Type": "application/json"})\n'
                  'try:\n    answer = urllib.request.urlopen(request, timeout=10)\n'
                  'except urllib.error.HTTPError as error:\n    answer = error\n'
                  'print(json.dumps([answer.status, json.loads(answer.read().decode() or "{}")]))\n')
        output = self.cmd(f'{sys.executable} -c {shlex.quote(script)}').strip()
        last = output.splitlines()[-1] if output else ''
        try:   # the shell echoes a continuation prompt per line of the script before the answer
            status, answer = json.loads(last[last.index('['):])
            return status, answer
        except ValueError:
            return 0, {'error': f'no answer from the broker at {self.broker}: {output[-200:]}'}


class IsatapRouter(TunnelEndpoint):
    """An ISATAP router (``tunnel`` mode isatap, role router) that advertises the link's prefixes with radvd, to
    each soliciting host alone (an ISATAP link has no multicast)."""

    serves_at_start = True   # hosts solicit it while the network starts

    def start_services(self, net):
        super().start_services(net)
        conf, pidfile = net.run.path(f'radvd-{self.name}.conf'), net.run.path(f'radvd-{self.name}.pid')
        with open(conf, 'w') as handle:
            handle.write(radvd_config(self.device, self.tunnel.get('prefixes', []), TUNNEL_MTU))
        self.radvd_process = daemon.start_program(
            self, net.run, ['radvd', '--nodaemon', '--logmethod', 'stderr', '--config', conf, '--pidfile', pidfile],
            f'radvd {self.name}', lambda: os.path.exists(pidfile))

    def stop_services(self):
        daemon.stop(getattr(self, 'radvd_process', None))
        self.radvd_process = None
        super().stop_services()


class IsatapHost(TunnelEndpoint):
    """An ISATAP host (``tunnel`` mode isatap with ``routers``, its potential router list): it starts with its
    link-local address only and learns its prefix and default router by soliciting each router of the list."""

    def start_services(self, net):
        super().start_services(net)
        self.advertisements = {}
        for router in self.tunnel['routers']:
            output = self.cmd(f'rdisc6 -1 -r {SOLICITATIONS} -w {SOLICIT_WAIT_MS} '
                              f'{isatap_address("fe80::/64", router)} {self.device}')
            self.advertisements[router] = read_advertisement(output)
        deadline = time.monotonic() + 2   # the kernel acts on the advertisement as rdisc6 reads it
        while (any(self.advertisements.values()) and time.monotonic() < deadline
               and 'default' not in self.cmd(f'ip -6 route show default dev {self.device}')):
            time.sleep(0.05)

    def tunnel_record(self) -> Dict:
        answered = {router: str(advertisement.router) if advertisement else None
                    for router, advertisement in getattr(self, 'advertisements', {}).items()}
        return {**super().tunnel_record(), 'routers': answered}


def endpoints(net) -> List[TunnelEndpoint]:
    return [host for host in net.hosts if isinstance(host, TunnelEndpoint)]

