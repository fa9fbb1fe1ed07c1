"""Lab 3 grader: the student's RFC 3056 derivation and RFC 3964 check on hidden cases, then their router
configuration applied to r1 and host a of the paper's network: across the tunnel, through the relay, the tunnel
MTU, and spoofed packets dropped."""
import ipaddress
import os
import re
import sys
import time

from testbed.reports.labs import Check, Lab, cases_check, read_student_value, same
from testbed.sixtofour.addressing import (RELAY_ANYCAST, TUNNEL_MTU, address_in, router_6to4_address, site_prefix,
                               subnet)

STUDENT_FILE = 'my_6to4.py'
RELAY_6TO4 = str(router_6to4_address(RELAY_ANYCAST))   # 2002:c058:6301::1
RELAY_COMPAT = f'::{RELAY_ANYCAST}'  # the same next hop as Linux's sit device wants it (IPv4-compatible)
NATIVE_C = '2001:db8:c::10'


def parameters(rng):
    return {'r1': f'192.0.2.{rng.randint(1, 200)}', 'r2': f'198.51.100.{rng.randint(1, 200)}'}


def reference_router(v4):
    lan = subnet(v4, 1)
    return {'lan_prefix': lan, 'router_address': address_in(lan, 1), 'host_address': address_in(lan, 0x10),
            'tunnel_mtu': TUNNEL_MTU}


def _router_check(router, params):
    want = reference_router(params['r1'])
    if not isinstance(router, dict):
        return Check('your router configuration (ROUTER)', 3, 0, 'ROUTER is not filled in (handout task 2)'), False
    wrong = []
    for key, kind in (('lan_prefix', ipaddress.IPv6Network), ('router_address', ipaddress.IPv6Address),
                      ('host_address', ipaddress.IPv6Address), ('tunnel_mtu', int)):
        if not same(kind, router.get(key), want[key]):
            wrong.append(f'{key} is {router.get(key)!r}')
    if not any(same(ipaddress.IPv6Address, router.get('default_via'), hop) for hop in (RELAY_6TO4, RELAY_COMPAT)):
        wrong.append(f'default_via is {router.get("default_via")!r}')
    usable = all(same(ipaddress.IPv6Address, router.get(k), router.get(k)) for k in
                 ('router_address', 'host_address', 'default_via')) and isinstance(router.get('tunnel_mtu'), int)
    if wrong:
        return Check('your router configuration (ROUTER)', 3, 0,
                     '; '.join(wrong) + f'. Your site is {site_prefix(params["r1"])}: subnet 1 is the /64 with 1 in '
                     'the fourth group; the tunnel loses 20 bytes of the 1500-byte IPv4 MTU to the outer header; '
                     'native IPv6 goes to the relay\'s 6to4 address (192.88.99.1 embedded)'), usable
    return Check('your router configuration (ROUTER)', 3, 3, 'addresses, MTU and default route as RFC 3056/3068 '
                                                             'give them for your router'), usable


def _apply(net, router):
    """Configure r1's LAN, tunnel MTU and default route and host a's address exactly as the student wrote."""
    r1, a = net['r1'], net['a']
    via = str(router['default_via'])
    if r1.counters().get('path') == 'kernel' and same(ipaddress.IPv6Address, via, RELAY_6TO4):
        via = RELAY_COMPAT  # sit takes the relay as an IPv4-compatible next hop: the same address, its form
    lan, host = r1.intfNames()[1], a.intfNames()[0]
    r1.cmd(f'ip -6 addr flush dev {lan} scope global; ip -6 addr add {router["router_address"]}/64 dev {lan} nodad; '
           f'ip link set dev tun6to4 mtu {int(router["tunnel_mtu"])}; '
           f'ip -6 route replace default via {via} dev tun6to4 onlink')
    a.cmd(f'ip -6 addr flush dev {host} scope global; ip -6 addr add {router["host_address"]}/64 dev {host} nodad; '
          f'ip -6 route replace default via {router["router_address"]} dev {host}')


def _live(router, params, log):
    from testbed.errors import TestbedError
    from testbed.network.net import running
    from topologies.sixtofour import SixToFourTopo
    checks = []
    try:
        with running(SixToFourTopo(r1=params['r1'], r2=params['r2']), controller='router', label='lab3') as net:
            _apply(net, router)
            a, r1, r2 = net['a'], net['r1'], net['r2']
            b = net['b'].params['ip6'].split('/')[0]
            for name, dst, how in (('across the tunnel (a -> b)', b, 'r1 wraps it toward the IPv4 address in b\'s '
                                    '2002: address'),
                                   ('through the relay (a -> c)', NATIVE_C, 'r1 sends native IPv6 to the relay, '
                                    'which must route the reply back to your host\'s 2002: address')):
                a.cmd(f'ping -6 -n -c 1 -W 2 {dst}')
                output = a.cmd(f'ping -6 -n -c 5 -i 0.2 -W 2 {dst}')
                ok = ' 0% packet loss' in output
                checks.append(Check(name, 2, 2 if ok else 0, ('5 of 5 pings answered' if ok else
                                                              'pings lost: ' + how)))
            fits = a.cmd(f'ping -6 -n -c 1 -W 2 -M do -s 1432 {b}')
            too_big = a.cmd(f'ping -6 -n -c 2 -W 2 -M do -s 1433 {b}')
            ok = ' 0% packet loss' in fits and re.search(r'[Pp]acket too big.*mtu\s*=\s*1480', too_big)
            checks.append(Check('tunnel MTU', 2, 2 if ok else 0,
                                'a 1480-byte IPv6 packet crosses; a 1481-byte one gets Packet Too Big (mtu 1480)' if ok
                                else 'a full 1480-byte IPv6 packet must cross the tunnel and a larger one must be '
                                     'refused with ICMPv6 Packet Too Big: 1500 - 20 bytes of IPv4 header'))
            before = r1.counters()['decap'].get('drop_spoofed', 0)
            echoes = a.cmd('grep Icmp6InEchos /proc/net/snmp6').split()
            r2.cmd(f'{sys.executable} -m testbed.sixtofour.spoof spoofed 20 --source {params["r2"]} '
                   f'--target {params["r1"]} --victim {router["host_address"]}')
            time.sleep(0.6)
            dropped = r1.counters()['decap'].get('drop_spoofed', 0) - before
            reached = int(a.cmd('grep Icmp6InEchos /proc/net/snmp6').split()[-1]) - int(echoes[-1])
            ok = dropped >= 20 and reached == 0
            checks.append(Check('spoofed packets dropped at your router', 1, 1 if ok else 0,
                                f'{dropped} of 20 spoofed datagrams dropped and counted at r1, {reached} reached a'))
    except TestbedError as exc:
        log(f'lab 3: the network did not come up: {exc}')
        checks.append(Check('the network with your configuration', 7, 0, str(exc)))
    return checks


def grade(workdir, params, log):
    path = os.path.join(workdir, STUDENT_FILE)
    r1, r2 = params['r1'], params['r2']
    b = str(reference_router(r2)['host_address'])
    checks = [
        cases_check(path, 'site prefix (RFC 3056)', 'site_prefix',
                     [(('192.0.2.1',), '2002:c000:201::/48'), (('8.8.4.4',), '2002:808:404::/48'),
                      ((r1,), str(site_prefix(r1))), ((r2,), str(site_prefix(r2)))], ipaddress.IPv6Network,
                     'The /48 is 2002 followed by the four bytes of the IPv4 address, in hexadecimal.'),
        cases_check(path, 'tunnel destination', 'tunnel_destination',
                     [((b,), r2), (('2002:c000:201:1::10',), '192.0.2.1'), ((NATIVE_C,), '192.88.99.1'),
                      ((RELAY_6TO4,), '192.88.99.1')], ipaddress.IPv4Address,
                     'A 2002:: destination carries its router\'s IPv4 address in bits 16-47; anything else goes to '
                     'the relay anycast 192.88.99.1 (RFC 3068).'),
        cases_check(path, 'RFC 3964 source check', 'accept_from_tunnel',
                     [((r2, b), True), (('203.0.113.9', b), False), (('192.88.99.1', NATIVE_C), True),
                      ((r2, NATIVE_C), False), (('192.88.99.1', '2002:c000:201:1::10'), False)], None,
                     'A 6to4 source must embed the outer IPv4 source; a native source may only come from the relay.'),
    ]
    router, error = read_student_value(path, 'ROUTER')
    check, usable = _router_check(None if error else router, params)
    if error:
        check.feedback = error
    checks.append(check)
    if usable:
        checks += _live(router, params, log)
    else:
        checks.append(Check('the network with your configuration', 7, 0,
                            'not tried: ROUTER needs addresses, an integer MTU and a next hop first'))
    return checks


LAB = Lab(number=3, name='6to4', title='6to4: a router and the relay', student_file=STUDENT_FILE,
          parameters=parameters, grade=grade)
