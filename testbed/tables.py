"""``testbed tables`` and ``testbed circuits``: a running network's tables and reservations.

Tables: each switch's forwarding table in the lecture's form, read back from the switch itself.

The rows come from ``ovs-ofctl dump-flows`` (the data plane's own table, not the controller's memory); the run's
plan (``plan.json``) only names what is behind each port: ``UCB  10.0.2.0/24  -> link #2 (UCB)  5 packets``.
"""
import json
import os
import subprocess

from testbed.controlplane import parse_dumped_routes
from testbed.errors import TestbedError
from testbed.runstate import list_runs


def find_run_file(run_id=None, name='plan.json'):
    """(run id, parsed JSON of ``name``) for the running network with a controller (one, or the one named)."""
    candidates = []
    for run, run_dir, alive in list_runs():
        path = os.path.join(run_dir, name)
        if alive and os.path.exists(path) and (run_id is None or run == run_id):
            candidates.append((run, path))
    if not candidates:
        raise TestbedError('no running network with a controller' + (f' named {run_id!r}' if run_id else '')
                           + ' (start one: testbed run star --controller)')
    if len(candidates) > 1:
        raise TestbedError(f'several networks run ({", ".join(n for n, _ in candidates)}): choose one with --run')
    with open(candidates[0][1]) as handle:
        return candidates[0][0], json.load(handle)


def find_plan(run_id=None):
    """(run id, plan) of the running network that has a controller plan."""
    return find_run_file(run_id, 'plan.json')


def read_switch(switch):
    """Route rows (prefix, port, packets) as the switch holds them."""
    proc = subprocess.run(['ovs-ofctl', '--no-names', '-O', 'OpenFlow13', 'dump-flows', switch],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise TestbedError(f'cannot read the flow table of {switch}: {proc.stderr.strip()}')
    return parse_dumped_routes(proc.stdout)


def named_rows(plan, switch, rows):
    """Attach names: the destination behind each prefix and the neighbour behind each port."""
    names = {a['prefix']: a['name'] for a in plan['attachments']}
    ports = plan['switches'][switch]['ports']
    result = []
    for prefix, port, packets in rows:
        peer = ports.get(str(port), {}).get('peer', '?')
        result.append({'destination': names.get(prefix, prefix), 'prefix': prefix, 'port': port,
                       'neighbour': peer, 'packets': packets})
    return result


def format_table(switch, rows):
    lines = [f'{switch}: forwarding table (read from the switch, {len(rows)} entries)',
             f'  {"destination":<12} {"prefix":<22} {"next hop":<24} {"packets":>8}']
    for row in rows:
        hop = f'link #{row["port"]} -> {row["neighbour"]}'
        lines.append(f'  {row["destination"]:<12} {row["prefix"]:<22} {hop:<24} {row["packets"]:>8}')
    return '\n'.join(lines)


def show_tables(switch=None, run_id=None, as_json=False):
    run, plan = find_plan(run_id)
    switches = [switch] if switch else sorted(plan['switches'])
    for name in switches:
        if name not in plan['switches']:
            raise TestbedError(f'no switch {name!r} in run {run} (it has: {", ".join(sorted(plan["switches"]))})')
    tables = {name: named_rows(plan, name, read_switch(name)) for name in switches}
    if as_json:
        print(json.dumps({'run': run, 'tables': tables}, indent=2))
    else:
        print('\n\n'.join(format_table(name, rows) for name, rows in tables.items()))
    return 0


def circuits_command(action, run_id=None, src=None, dst=None, rate=None, circuit_id=None):
    """List, reserve or tear down circuits through the running controller's REST API."""
    from testbed.controller import rest_call
    from testbed.units import format_rate, parse_rate
    _run, info = find_run_file(run_id, 'controller.json')
    port = info['rest_port']
    if action == 'reserve':
        status, answer = rest_call(port, 'POST', '/testbed/circuits',
                                   {'src': src, 'dst': dst, 'rate': parse_rate(rate, 'rate')})
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
