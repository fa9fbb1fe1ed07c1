"""Lab 5 grader: the student's RFC 5969 derivation and tunnel destination on hidden cases, then their CE
configuration applied to ce1 and host a of the 6rd network: straight to the other customer, and through the BR."""
import ipaddress
import os

from testbed.reports.labs import Check, Lab, cases_check, read_student_value, same
from testbed.transition.tunnels import sixrd_domain

STUDENT_FILE = 'my_6rd.py'
BR, CE1, CE2 = '10.64.0.1', '10.64.1.1', '10.64.2.1'
NATIVE_C = '2001:db8:c::10'
# (6rd prefix length, IPv4MaskLen): every pair leaves a delegated prefix of at most /60, room for LANs
SHAPES = ((32, 8), (36, 8), (40, 16), (32, 16))


def parameters(rng):
    length, v4_common = rng.choice(SHAPES)
    value = (0x20010db8 << 96) | (rng.randrange(1, 1 << (length - 32)) << (128 - length)) if length > 32 \
        else 0x20010db8 << 96
    return {'prefix': str(ipaddress.IPv6Network((value, length))), 'v4_common': v4_common}


def domain(params):
    common = ipaddress.IPv4Network(f'10.64.0.0/{params["v4_common"]}', strict=False)
    return sixrd_domain(params['prefix'], params['v4_common'], BR, str(common))


def reference_ce(params):
    delegated = domain(params).delegated_prefix(CE1)
    lan = ipaddress.IPv6Network((int(delegated.network_address) | (1 << 64), 64))
    return {'delegated_prefix': delegated, 'lan_prefix': lan, 'router_address': lan.network_address + 1,
            'host_address': lan.network_address + 0x10,
            'tunnel_address': ipaddress.IPv6Interface(f'{delegated.network_address + 1}/'
                                                      f'{domain(params).prefix.prefixlen}'),
            'default_via': ipaddress.IPv6Address(f'::{BR}')}


KINDS = {'delegated_prefix': ipaddress.IPv6Network, 'lan_prefix': ipaddress.IPv6Network,
         'router_address': ipaddress.IPv6Address, 'host_address': ipaddress.IPv6Address,
         'tunnel_address': ipaddress.IPv6Interface, 'default_via': ipaddress.IPv6Address}


def _ce_check(ce, params):
    if not isinstance(ce, dict):
        return Check('your CE configuration (CE)', 3, 0, 'CE is not filled in (handout task 2)'), False
    want = reference_ce(params)
    wrong = [f'{key} is {ce.get(key)!r}' for key, kind in KINDS.items() if not same(kind, ce.get(key), want[key])]
    usable = all(same(kind, ce.get(key), ce.get(key)) for key, kind in KINDS.items() if key != 'delegated_prefix')
    if wrong:
        return Check('your CE configuration (CE)', 3, 0,
                     '; '.join(wrong) + f'. Your ISP\'s 6rd prefix is {params["prefix"]} with IPv4MaskLen '
                     f'{params["v4_common"]}: ce1 (10.64.1.1) owns the prefix followed by the last '
                     f'{32 - params["v4_common"]} bits of its address; subnet 1 is that prefix with 1 in bits '
                     '48-63; the tunnel address carries the 6rd prefix\'s length; the BR is ::10.64.0.1'), usable
    return Check('your CE configuration (CE)', 3, 3, 'delegated prefix, LAN, tunnel address and default route as '
                                                      'RFC 5969 gives them for ce1'), usable


def _apply(net, ce):
    """Configure ce1's tunnel address, LAN and default route and host a's address exactly as the student wrote."""
    ce1, a = net['ce1'], net['a']
    lan, host = ce1.intfNames()[1], a.intfNames()[0]
    ce1.cmd(f'ip -6 route flush dev {ce1.device}; ip -6 addr flush dev {ce1.device} scope global; '
            f'ip -6 addr add {ce["tunnel_address"]} dev {ce1.device} nodad; '
            f'ip -6 addr flush dev {lan} scope global; ip -6 addr add {ce["router_address"]}/64 dev {lan} nodad; '
            f'ip -6 route replace default via {ce["default_via"]} dev {ce1.device} onlink')
    a.cmd(f'ip -6 addr flush dev {host} scope global; ip -6 addr add {ce["host_address"]}/64 dev {host} nodad; '
          f'ip -6 route replace default via {ce["router_address"]} dev {host}')


def _live(ce, params, log):
    from testbed.errors import TestbedError
    from testbed.network.net import running
    from topologies.transition import SixRdTopo
    checks = []
    b = str(domain(params).delegated_prefix(CE2).network_address + (1 << 64) + 0x10)
    try:
        with running(SixRdTopo(prefix=params['prefix'], v4_common=params['v4_common']), label='lab5') as net:
            _apply(net, ce)
            for name, dst, how in (('straight to the other customer (a -> b)', b, 'ce1 wraps it toward the IPv4 '
                                    'address embedded in b\'s 6rd address'),
                                   ('through the BR (a -> c)', NATIVE_C, 'ce1 sends native IPv6 to the BR, which '
                                    'must route the reply back to your host\'s 6rd address')):
                output = net['a'].cmd(f'ping -6 -n -c 3 -i 0.2 -w 5 {dst}')
                ok = ' 0 received' not in output and 'received' in output
                checks.append(Check(name, 2, 2 if ok else 0, 'answered' if ok else 'no answer: ' + how))
    except TestbedError as exc:
        log(f'lab 5: the network did not come up: {exc}')
        checks.append(Check('the network with your configuration', 4, 0, str(exc)))
    return checks


def grade(workdir, params, log):
    path = os.path.join(workdir, STUDENT_FILE)
    prefix, v4_common = params['prefix'], params['v4_common']
    mine = domain(params)
    other = str(mine.delegated_prefix(CE2).network_address + (1 << 64) + 0x10)
    checks = [
        cases_check(path, 'delegated prefix (RFC 5969)', 'delegated_prefix',
                     [(('2001:db8:6000::/40', 16, '10.64.1.1'), '2001:db8:6001:100::/56'),
                      (('2001:db8::/32', 0, '192.0.2.1'), '2001:db8:c000:201::/64'),
                      ((prefix, v4_common, CE1), str(mine.delegated_prefix(CE1))),
                      ((prefix, v4_common, '10.64.200.7'), str(mine.delegated_prefix('10.64.200.7')))],
                     ipaddress.IPv6Network, 'The 6rd prefix, then the CE\'s IPv4 address without its first '
                     'IPv4MaskLen bits.'),
        cases_check(path, 'tunnel destination', 'tunnel_destination',
                     [((other, prefix, v4_common), CE2), ((NATIVE_C, prefix, v4_common), BR),
                      ((str(mine.delegated_prefix('10.64.200.7').network_address + 5), prefix, v4_common),
                       '10.64.200.7')], ipaddress.IPv4Address,
                     'Inside the 6rd prefix: the common IPv4 bits followed by the bits after the prefix; anything '
                     'else goes to the BR.'),
    ]
    ce, error = read_student_value(path, 'CE')
    check, usable = _ce_check(None if error else ce, params)
    if error:
        check.feedback = error
    checks.append(check)
    if usable:
        checks += _live(ce, params, log)
    else:
        checks.append(Check('the network with your configuration', 4, 0,
                            'not tried: CE needs addresses and a next hop first'))
    return checks


LAB = Lab(number=5, name='6rd', title='6rd: IPv6 from an ISP that still runs IPv4', student_file=STUDENT_FILE,
          parameters=parameters, grade=grade)
