"""``testbed cluster doctor SERVER...``: what each server lacks for a cluster run, and exactly what to fix.

It asks every server, over ssh in batch mode as the user a cluster run would be (the one who ran sudo: Mininet's
``findUser``; ``testbed.cluster.remote``), for its clock, whether sudo needs no password, its Mininet and Open
vSwitch versions, whether it can make tunnel interfaces and which testbed lies at this machine's path; asks this
machine the same; and compares (``testbed.cluster.plan.verdicts``).
"""
import shlex
import subprocess
import sys
import time
from typing import Dict, List

from mininet.examples.cluster import findUser

from testbed import REPO
from testbed.cluster.plan import verdicts
from testbed.cluster.remote import run_on

# One round trip per server: key=value lines (the clock first, so the round trip brackets it tightly). The testbed
# must lie at this machine's path there too: a cluster run starts its agent (testbed.cluster.agent) from it.
REPORT = ('echo clock=$(date +%s.%N); '
          'if sudo -n true 2>/dev/null; then echo sudo=ok; '
          'else echo "sudo=sudo is missing or asks for a password"; fi; '
          'echo "mininet=$(mn --version 2>&1 | head -1)"; '
          'echo "ovs=$(ovs-vsctl --version 2>&1 | head -1)"; '
          'if [ -c /dev/net/tun ]; then echo tun=yes; else echo tun=no; fi; '
          f'echo "testbed=$(PYTHONPATH={shlex.quote(REPO)} {shlex.quote(sys.executable)} -c '
          '\'import testbed; print(testbed.__version__)\' 2>&1 | tail -1)"')


def parse_report(text: str) -> Dict[str, str]:
    """key=value lines -> dict (other lines ignored)."""
    return dict(line.split('=', 1) for line in text.splitlines() if '=' in line)


def ask(server: str) -> Dict[str, str]:
    """What ``server`` reports, with our clock around the question; 'ssh' holds ssh's error if it failed."""
    sent = time.time()
    done = run_on(server, ['sh', '-c', REPORT], user=findUser())
    received = time.time()
    if done.returncode != 0:
        error = (done.stderr.strip().splitlines() or [f'ssh exited with {done.returncode}'])[-1]
        return {'ssh': error}
    return {**parse_report(done.stdout), 'ssh': '', 'sent': repr(sent), 'received': repr(received)}


def local_report() -> Dict[str, str]:
    done = subprocess.run(['sh', '-c', REPORT], capture_output=True, text=True)
    return parse_report(done.stdout)


def check(servers: List[str]) -> List[Dict[str, object]]:
    """The doctor's rows for ``servers`` (see ``plan.verdicts``)."""
    return verdicts(local_report(), {server: ask(server) for server in servers})


def render(rows: List[Dict[str, object]]) -> List[str]:
    """Readable lines: one per check, then what to fix."""
    lines = [f'{"ok  " if row["ok"] else "FAIL"}  {row["server"]}: {row["check"]} ({row["detail"]})' for row in rows]
    fixes = [f'- {row["server"]}: {row["fix"]}' for row in rows if not row['ok']]
    return lines + (['', 'To fix:'] + fixes if fixes else ['', 'every server is ready for a cluster run'])
