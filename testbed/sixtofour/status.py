"""``testbed sixtofour``: the tunnel and RFC 3964 counters of the 6to4 routers and relays of a running network,
read from another terminal (the run directory's ``tunnels.json`` says where each node's counters are)."""
import json
import subprocess

from testbed.sixtofour.nodes import tunnel_counters
from testbed.system.runstate import find_run_file


def sixtofour_command(run_id=None, as_json=False):
    """Print the 6to4 routers' and relays' tunnel and RFC 3964 counters of the running network."""
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
