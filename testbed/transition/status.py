"""``testbed tunnels`` (also ``testbed sixtofour``): the counters of every tunnel endpoint and translator of a running
network -- 6to4 routers and relays, the survey's other tunnel modes, NAT64 sessions -- read from another terminal
(the run directory's ``tunnels.json`` says where each node's counters are)."""
import json
import subprocess

from testbed.sixtofour.addressing import TUNNEL_DEVICE
from testbed.sixtofour.nodes import tunnel_counters
from testbed.transition.nat64 import pool_sessions
from testbed.system.runstate import find_run_file


def tunnel_rows(run_id=None):
    """(run id, {node: its record and 'counters'}) for every tunnel endpoint and NAT64 of the running network."""
    run, tunnels = find_run_file(run_id, 'tunnels.json', what='tunnel endpoints')
    rows = {}
    for name, record in sorted(tunnels.items()):
        def run_cmd(cmd, pid=record['pid']):
            return subprocess.run(['nsenter', '-t', str(pid), '-n', 'sh', '-c', cmd], capture_output=True,
                                  text=True).stdout
        if record.get('mode') == 'nat64':
            counters = {'sessions': pool_sessions(run_cmd('cat /proc/net/nf_conntrack 2>/dev/null'), record['pool'])}
        else:
            counters = tunnel_counters(record['path'], record['stats'], run_cmd, record.get('device', TUNNEL_DEVICE))
        rows[name] = {**record, 'counters': counters}
    return run, rows


def tunnels_command(run_id=None, as_json=False):
    """Print every tunnel endpoint's counters (decapsulated, delivered, encapsulated, drops by reason) and every
    NAT64's sessions, of the running network."""
    run, rows = tunnel_rows(run_id)
    if as_json:
        print(json.dumps({'run': run, 'tunnels': rows}, indent=1))
        return 0
    print(f'{"node":<8} {"mode":<8} {"role":<7} {"path":<10} {"IPv4":<15} {"decap":>8} {"delivered":>9} '
          f'{"encap":>8}  drops')
    for name, row in rows.items():
        mode = row.get('mode', '6to4')
        if mode == 'nat64':
            print(f'{name:<8} {mode:<8} {row["role"]:<7} {row["path"]:<10} {row["v4"]:<15} '
                  f'{row["counters"]["sessions"]} sessions (state per flow)')
            continue
        decap, encap = row['counters'].get('decap', {}), row['counters'].get('encap', {})
        drops = ', '.join(f'{key[5:]} {value}' for key, value in sorted(decap.items())
                          if key.startswith('drop_') and value) or '-'
        if 'routers' in row:   # an ISATAP host: which routers of its potential router list answered
            drops += '  PRL: ' + ', '.join(f'{router} {"answered" if link_local else "silent"}'
                                           for router, link_local in row['routers'].items())
        print(f'{name:<8} {mode:<8} {row["role"]:<7} {row["path"] or "?":<10} {row["v4"]:<15} '
              f'{decap.get("received", 0):>8} {decap.get("delivered", 0):>9} {encap.get("sent", 0):>8}  {drops}')
    return 0
