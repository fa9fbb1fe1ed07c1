"""``testbed tables``: each switch's forwarding table in the lecture's form, read back from the switch itself.

The rows come from ``ovs-ofctl dump-flows`` (the data plane's own table, not the controller's memory); the run's
plan (``plan.json``) only names what is behind each port: ``UCB  10.0.2.0/24  -> link #2 (UCB)  5 packets``.
"""
import json
import subprocess

from testbed.control.flows import parse_dumped_routes
from testbed.errors import TestbedError
from testbed.system.runstate import find_run_file


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

