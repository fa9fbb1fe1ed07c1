"""Talking to a running network from another command: find its run, use its controller's REST API.

``testbed tables`` and ``testbed circuits`` run in a second terminal while ``testbed run ... --controller`` holds
the network; the run directory says where the controller listens (``controller.json``) and what the plan is.
"""
import json
import os

from testbed.errors import TestbedError
from testbed.runstate import list_runs


def find_run_file(run_id=None, name='plan.json', what='a controller'):
    """(run id, parsed JSON of ``name``) for the running network with ``what`` (one, or the one named)."""
    candidates = []
    for run, run_dir, alive in list_runs():
        path = os.path.join(run_dir, name)
        if alive and os.path.exists(path) and (run_id is None or run == run_id):
            candidates.append((run, path))
    if not candidates:
        raise TestbedError(f'no running network with {what}' + (f' named {run_id!r}' if run_id else '')
                           + ' (start one: testbed run ' + ('sixtofour' if 'tunnels' in name else 'star')
                           + ' --controller)')
    if len(candidates) > 1:
        raise TestbedError(f'several networks run ({", ".join(n for n, _ in candidates)}): choose one with --run')
    with open(candidates[0][1]) as handle:
        return candidates[0][0], json.load(handle)


def sixtofour_command(run_id=None, as_json=False):
    """Print the 6to4 routers' and relays' tunnel and RFC 3964 counters of the running network."""
    import subprocess
    from testbed.sixtofour_nodes import tunnel_counters
    run, tunnels = find_run_file(run_id, 'tunnels.json', what='6to4 routers')
    rows = {}
    for name, record in sorted(tunnels.items()):
        def run_cmd(cmd, pid=record['pid']):
            return subprocess.run(['nsenter', '-t', str(pid), '-n', 'sh', '-c', cmd], capture_output=True,
                                  text=True).stdout
        rows[name] = {**record, 'counters': tunnel_counters(record['path'], record['stats'], run_cmd)}
    if as_json:
        print(json.dumps({'run': run, 'tunnels': rows}, indent=1))
        return 0
    print(f'{"node":<8} {"role":<7} {"path":<10} {"IPv4":<15} {"decap":>8} {"delivered":>9} {"encap":>8}  drops')
    for name, row in rows.items():
        decap, encap = row['counters'].get('decap', {}), row['counters'].get('encap', {})
        drops = ', '.join(f'{key[5:]} {value}' for key, value in sorted(decap.items())
                          if key.startswith('drop_') and value) or '-'
        print(f'{name:<8} {row["role"]:<7} {row["path"] or "?":<10} {row["v4"]:<15} {decap.get("received", 0):>8} '
              f'{decap.get("delivered", 0):>9} {encap.get("sent", 0):>8}  {drops}')
    return 0


def check_circuit_request(action, src=None, dst=None, rate=None, circuit_id=None):
    """Refuse an incomplete or malformed circuits command before any network is asked; return the rate in
    bits/s (reserve) or None."""
    from testbed.units import parse_rate
    if action == 'reserve':
        if not (src and dst and rate):
            raise TestbedError('testbed circuits reserve needs SRC DST RATE (for example: reserve h1 h3 4)')
        if src == dst:
            raise TestbedError(f'a circuit joins two different hosts, not {src} to itself')
        return parse_rate(rate, 'rate')
    if action == 'teardown' and not (circuit_id or '').isdigit():
        raise TestbedError(f'testbed circuits teardown needs --id N, a circuit number (see: testbed circuits), '
                           f'not {circuit_id!r}' if circuit_id else 'testbed circuits teardown needs --id N')
    return None


def circuits_command(action, run_id=None, src=None, dst=None, rate=None, circuit_id=None):
    """List, reserve or tear down circuits through the running controller's REST API."""
    import urllib.error
    from testbed.controller import rest_call as call

    def rest_call(*args):
        try:
            return call(*args)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise TestbedError(f'the controller of the running network does not answer ({exc})') from None
    from testbed.units import format_rate
    rate = check_circuit_request(action, src, dst, rate, circuit_id)
    _run, info = find_run_file(run_id, 'controller.json')
    port = info['rest_port']
    if action == 'reserve':
        status, answer = rest_call(port, 'POST', '/testbed/circuits',
                                   {'src': src, 'dst': dst, 'rate': rate})
        if status != 200:
            raise TestbedError(f'circuit refused: {answer.get("error", status)}')
        print(f'circuit {answer["id"]}: {answer["src"]} -> {answer["dst"]}, {format_rate(answer["rate"])}, '
              f'via {" - ".join(answer["path"])}')
    elif action == 'teardown':
        status, answer = rest_call(port, 'DELETE', f'/testbed/circuits/{circuit_id}')
        if status != 200:
            raise TestbedError(answer.get('error', f'teardown failed ({status})'))
        print(f'circuit {circuit_id} torn down')
    else:
        _status, answer = rest_call(port, 'GET', '/testbed/circuits')
        for circuit in answer['circuits']:
            print(f'circuit {circuit["id"]}: {circuit["src"]} -> {circuit["dst"]}, {format_rate(circuit["rate"])}, '
                  f'via {" - ".join(circuit["path"])}')
        for link in answer['links']:
            print(f'link {link["link"]}: {format_rate(link["reserved"]) if link["reserved"] else "nothing"} '
                  f'reserved of {format_rate(link["capacity"])}')
        if not answer['circuits'] and not answer['links']:
            print('no circuits; no link has a bandwidth (bw) to reserve')
    return 0
