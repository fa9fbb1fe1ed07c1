"""The run registry and scoped cleanup, with real processes but no network objects (no root needed)."""
import json
import os
import subprocess
import sys

import pytest

from testbed.errors import TestbedError
from testbed.system.runstate import Run, clean, list_runs, process_start_time, read_records, undo


def _dead_owner(run):
    """Make a run look orphaned: its owner becomes a process that has exited."""
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    child.wait()
    with open(os.path.join(run.dir, 'owner.json'), 'w') as handle:
        json.dump({'pid': child.pid, 'start': 1}, handle)


def test_records_are_appended_and_read_back(tmp_path):
    run = Run('unit', root=str(tmp_path))
    run.record_process(os.getpid(), 'me')
    run.record('bridge', name='s1')
    records = read_records(run.dir)
    assert [r['kind'] for r in records] == ['process', 'bridge']
    assert records[0]['start'] == process_start_time(os.getpid())
    assert list_runs(str(tmp_path)) == [(run.id, run.dir, True)]
    run.close()
    assert list_runs(str(tmp_path)) == []


def test_clean_ends_recorded_processes_of_dead_runs_only(tmp_path):
    run = Run('orphan', root=str(tmp_path))
    victim = subprocess.Popen(['sleep', '60'])
    bystander = subprocess.Popen(['sleep', '60'])
    try:
        run.record_process(victim.pid, 'recorded')
        _dead_owner(run)
        live = Run('live', root=str(tmp_path))  # owned by this test process: must be left alone
        cleaned, still_running = clean(root=str(tmp_path), log=lambda message: None)
        assert cleaned == [run.id] and still_running == [live.id]
        assert victim.wait(timeout=5) is not None
        assert bystander.poll() is None, 'a process the run did not record was touched'
        assert not os.path.exists(run.dir)
        live.close()
    finally:
        for proc in (victim, bystander):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_a_recycled_pid_is_never_signalled(tmp_path):
    other = subprocess.Popen(['sleep', '60'])
    try:
        records = [{'kind': 'process', 'pid': other.pid, 'start': process_start_time(other.pid) - 1}]
        removed = undo(records, 'x')
        assert removed['process'] == 0 and other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_foreign_bridge_and_interface_records_are_checked_before_deleting():
    # A bridge without our tag and an interface whose ifindex differs are left alone.
    records = [{'kind': 'bridge', 'name': 'tb-no-such-bridge'},
               {'kind': 'link', 'name': 'lo', 'ifindex': 999999}]
    removed = undo(records, 'x')
    assert removed['bridge'] == 0 and removed['link'] == 0
    assert os.path.exists('/sys/class/net/lo')


def test_a_cluster_runs_parts_on_servers_are_handed_to_the_caller_and_an_unreached_one_is_reported(tmp_path):
    run = Run('cluster', root=str(tmp_path))
    run.record('server', server='a', run='r-a', user='u')
    run.record('server', server='b', run='r-b', user='u')
    run.close(remove=False)
    _dead_owner(run)
    asked = []

    def servers(record):
        asked.append((record['server'], record['run'], record['user']))
        return 'no route to host' if record['server'] == 'b' else None

    with pytest.raises(TestbedError, match=r'cleaned 1 run\(s\) here, but not on b \(no route to host; run testbed '
                                           r'clean there\)'):
        clean(root=str(tmp_path), log=lambda message: None, servers=servers)
    assert asked == [('a', 'r-a', 'u'), ('b', 'r-b', 'u')]
    assert not os.path.exists(run.dir)   # the local part is gone either way
