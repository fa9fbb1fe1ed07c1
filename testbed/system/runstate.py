"""Run registry and scoped cleanup: what each run created, so exactly that can be removed.

Every run gets a directory ``$TESTBED_RUN_ROOT/<run id>/`` (default ``/run/testbed``) holding ``owner.json`` (the
PID and start time of the process that owns the run) and ``records.jsonl``, one JSON object per created object,
appended and flushed as soon as the object exists:

- ``process``: a PID with its start time (``/proc/PID/stat`` field 22), so a recycled PID is never signalled;
- ``netns``: a node's network namespace, pinned by a bind mount of ``/proc/PID/ns/net`` on a file in the run
  directory (the path is recorded before the mount): while the mount exists the namespace's inode cannot be reused,
  so every process in it is the run's, also after the node's own interfaces are gone (a process a user or an
  experiment started inside a host keeps the namespace alive); removing it ends those processes and unmounts;
- ``bridge``: an OVS bridge tagged ``external_ids:testbed-run=<run id>``; only a bridge with that tag is deleted;
- ``link``: an interface in the root namespace by name and ifindex, recorded before the interface is created with
  that index; only that ifindex is deleted;
- ``server``: a cluster run's part on another machine (the server, its agent's run there, the user): ``clean()``
  hands it to a caller that can reach servers (``testbed clean`` does).

``undo()`` removes what records name, ``remaining()`` says what of it still exists: a run's directory is deleted
only once nothing is left, so ``testbed clean`` can always finish what a stop did not. ``clean()`` undoes the
records of runs whose owner is gone (killed, crashed), or of one given run. It never uses ``mn -c``, ``pkill -f``
or ``killall`` and never touches what it did not record.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import time

from testbed.errors import TestbedError

DEFAULT_ROOT = '/run/testbed'
RUN_TAG = 'testbed-run'
RECORDED_IFINDEX_RANGE = (100_000, 1 << 24)
OWNER_GRACE_S = 10  # a run directory this young without owner.json is being created, not abandoned


def run_root():
    return os.environ.get('TESTBED_RUN_ROOT', DEFAULT_ROOT)


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (state first), or None if there is no such process."""
    try:
        with open(f'/proc/{pid}/stat') as handle:
            stat = handle.read()
    except OSError:
        return None
    return stat[stat.rindex(')') + 2:].split()


def process_start_time(pid):
    """Start time of a process in clock ticks since boot, or None if it does not exist."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def process_state(pid):
    """The one-letter state of a process (R, S, Z, ...), or None if it does not exist."""
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def process_alive(pid, start):
    """True while ``pid`` is still the process that started at ``start`` and has not exited (zombies are dead)."""
    return start is not None and process_start_time(pid) == start and process_state(pid) not in (None, 'Z', 'X')


def ifindex(name):
    """ifindex of an interface in our namespace, or None."""
    try:
        with open(f'/sys/class/net/{name}/ifindex') as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return None


def _quiet(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


_HANDED_OUT: set = set()   # the indexes free_ifindex gave this process


def free_ifindex():
    """An interface index for an interface whose index is recorded before it is created. Drawn at random from a
    range the kernel reaches only after ~100,000 interfaces, so that a recorded (name, index) pair is practically
    never reused by a later interface of the same name. The namespace is not listed (at 3,000 interfaces a listing
    took 41 ms, 100 s of a 506-switch build): an index taken anyway makes ``ip link add`` fail with "exists", and
    the caller draws again."""
    while True:
        candidate = random.randrange(*RECORDED_IFINDEX_RANGE)
        if candidate not in _HANDED_OUT:
            _HANDED_OUT.add(candidate)
            return candidate


class Run:
    """The records of one run of the testbed (one network, one experiment, ...).

    Objects are recorded before they are created wherever their identity is known in advance (bridges, and
    root-namespace interfaces with the index they will get), and at once after creation otherwise (a PID);
    callers hold signals for that moment (``testbed.system.interrupts.deferred_signals``)."""

    def __init__(self, label='run', root=None):
        self.root = root or run_root()
        base = f'{time.strftime("%Y%m%d-%H%M%S")}-{os.getpid()}-{label}'[:60]
        self._records = None
        try:
            os.makedirs(self.root, mode=0o755, exist_ok=True)
            for attempt in range(1, 100):
                self.id = base if attempt == 1 else f'{base}-{attempt}'
                self.dir = os.path.join(self.root, self.id)
                try:
                    os.mkdir(self.dir, 0o755)
                    break
                except FileExistsError:
                    continue
            owner = {'pid': os.getpid(), 'start': process_start_time(os.getpid()), 'label': label,
                     'created': time.time()}
            with open(os.path.join(self.dir, 'owner.json'), 'w') as handle:
                json.dump(owner, handle)
            self._records = open(os.path.join(self.dir, 'records.jsonl'), 'a', buffering=1)
        except OSError as exc:
            raise TestbedError(f'the run-state directory {self.root} is unusable: {exc.strerror or exc} '
                               f'(set TESTBED_RUN_ROOT to a writable directory)') from None

    def record(self, kind, **fields):
        fields['kind'] = kind
        self._records.write(json.dumps(fields) + '\n')
        self._records.flush()
        os.fsync(self._records.fileno())

    def record_process(self, pid, what):
        self.record('process', pid=pid, start=process_start_time(pid), what=what)

    def record_netns(self, pid, name, what):
        """Pin the network namespace of ``pid`` (a node's shell) with a bind mount at ``netns-<name>``; return the
        record."""
        path = self.path(f'netns-{name}')
        if os.path.exists(path):
            raise TestbedError(f'run {self.id} pins a namespace called {name} already')
        record = {'kind': 'netns', 'path': path, 'what': what}
        self.record('netns', path=path, what=what)
        open(path, 'w').close()
        mounted = _quiet(['mount', '--bind', f'/proc/{pid}/ns/net', path])
        if mounted.returncode != 0:
            raise TestbedError(f'cannot pin the namespace of {what}: {mounted.stderr.strip()}')
        return record

    def record_bridge(self, name):
        self.record('bridge', name=name)

    def record_link(self, name, index=None):
        """A root-namespace interface: before creating it with ``index``, or after creation (index read)."""
        index = ifindex(name) if index is None else index
        if index is not None:
            self.record('link', name=name, ifindex=index)

    def path(self, name):
        """A file inside the run directory (logs, stats)."""
        return os.path.join(self.dir, name)

    def file(self, name, text=None):
        """A file inside the run directory, written with ``text`` if given (a node's configuration); its path."""
        path = self.path(os.path.basename(name))
        if text is not None:
            with open(path, 'w') as handle:
                handle.write(text)
        return path

    def records(self):
        return read_records(self.dir)

    def sweep(self, log=lambda message: None):
        """Remove whatever the records still name (after a normal stop: nothing); return what is left."""
        records = self.records()
        undo(records, self.id, log)
        return remaining(records, self.id)

    def close(self, remove=True):
        """End the run; ``remove`` deletes its directory (only once nothing it names is left)."""
        if self._records and not self._records.closed:
            self._records.close()
        if remove:
            remove_run_dir(self.dir)


def stop_after_failure(stop) -> None:
    """Call ``stop`` (which removes what a failed start had built) while that failure propagates: what it could not
    remove stays recorded for ``testbed clean``, and its own error must not hide the failure's cause."""
    try:
        stop()
    except TestbedError:
        pass


def remove_run_dir(run_dir):
    """Delete a run's directory, never following into a namespace pin that is still mounted."""
    if not any(os.path.ismount(os.path.join(run_dir, name)) for name in _listdir(run_dir)):
        shutil.rmtree(run_dir, ignore_errors=True)


def _listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def read_records(run_dir):
    records = []
    try:
        with open(os.path.join(run_dir, 'records.jsonl')) as handle:
            for line in handle:
                line = line.strip()
                if line:
                    try:
                        records.append(json.loads(line))
                    except ValueError:
                        pass  # a torn last line after a crash
    except OSError:
        pass
    return records


def read_owner(run_dir):
    try:
        with open(os.path.join(run_dir, 'owner.json')) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def list_runs(root=None):
    """(run id, run dir, owner alive?) for every recorded run."""
    root = root or run_root()
    runs = []
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        run_dir = os.path.join(root, name)
        if os.path.isdir(run_dir):
            owner = read_owner(run_dir)
            starting = not owner and time.time() - os.stat(run_dir).st_mtime < OWNER_GRACE_S
            runs.append((name, run_dir, starting or process_alive(owner.get('pid'), owner.get('start'))))
    return runs


def _signal_all(pids, sig):
    for pid, start in pids:
        if process_alive(pid, start):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass


def _terminate(pids, grace=2.0):
    """SIGTERM then SIGKILL a set of (pid, start) pairs, each only while it is still that process."""
    _signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(process_alive(pid, start) for pid, start in pids):
        time.sleep(0.02)
    _signal_all(pids, signal.SIGKILL)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(process_alive(pid, start) for pid, start in pids):
        time.sleep(0.02)


def processes_by_netns():
    """{(device, inode): [pid, ...]} for every process, by its network namespace (one pass over /proc)."""
    found = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                info = os.stat(f'/proc/{entry}/ns/net')
            except OSError:
                continue
            found.setdefault((info.st_dev, info.st_ino), []).append(int(entry))
    return found


def pinned_namespace(record):
    """(device, inode) of a recorded namespace while its pin (bind mount) holds it, else None."""
    path = record.get('path', '')
    if not os.path.ismount(path):
        return None
    info = os.stat(path)
    return info.st_dev, info.st_ino


def namespace_members(record, by_netns):
    """(pid, start) of the processes in a recorded namespace (none once it is unpinned)."""
    pinned = pinned_namespace(record)
    return [(pid, process_start_time(pid)) for pid in by_netns.get(pinned, [])] if pinned else []


def unpin(record):
    """Release a namespace's pin (the namespace goes once its last process has) and delete the pin file."""
    path = record.get('path', '')
    if os.path.ismount(path):
        _quiet(['umount', path])
    if not os.path.ismount(path) and os.path.exists(path):
        os.unlink(path)


def bridge_tags():
    """{bridge name: the run id it is tagged with, or ''} for every OVS bridge ({} when OVS does not answer)."""
    shown = _quiet(['ovs-vsctl', '--timeout=5', '--format=json', '--columns=name,external_ids', 'list', 'Bridge'])
    try:
        rows = json.loads(shown.stdout)['data'] if shown.returncode == 0 else []
    except (ValueError, KeyError):
        return {}
    return {name: dict(ids[1]).get(RUN_TAG, '') for name, ids in rows}


def _ours(records, run_id, by_netns, tags, me):
    """What of ``records`` still exists: {'process': {(pid, start): what}, 'bridge': [...], 'link': [...]}."""
    found = {'process': {}, 'netns': [], 'bridge': [], 'link': []}
    for record in records:
        kind = record['kind']
        if kind == 'process' and process_alive(record['pid'], record.get('start')):
            found['process'][(record['pid'], record['start'])] = record.get('what', 'process')
        elif kind == 'netns':
            for member in namespace_members(record, by_netns):
                found['process'].setdefault(member, f'a process in the {record.get("what", "namespace")}')
            if pinned_namespace(record):
                found['netns'].append(record)
        elif kind == 'bridge' and tags.get(record['name']) == run_id and record['name'] not in found['bridge']:
            found['bridge'].append(record['name'])
        elif kind == 'link' and ifindex(record['name']) == record['ifindex']:
            found['link'].append((record['name'], record['ifindex']))
    found['process'].pop(me, None)
    return found


def end_namespace_processes(records, keep=()):
    """End every process in the run's recorded namespaces except the PIDs in ``keep`` (the nodes' own shells):
    what a user or an experiment left running in a host (an iperf3 server, a ping). Returns how many."""
    by_netns = processes_by_netns()
    victims = {member for record in records if record['kind'] == 'netns'
               for member in namespace_members(record, by_netns) if member[0] not in keep}
    _terminate(sorted(victims))
    return len(victims)


def remaining(records, run_id):
    """Human descriptions of what the records name that still exists (empty once the run is fully removed)."""
    me = (os.getpid(), process_start_time(os.getpid()))
    found = _ours(records, run_id, processes_by_netns(), bridge_tags(), me)
    return ([f'{what} (pid {pid})' for (pid, _), what in sorted(found['process'].items())]
            + [record.get('what', 'a namespace') for record in found['netns']]
            + [f'bridge {name}' for name in found['bridge']] + [f'interface {name}' for name, _ in found['link']])


def undo(records, run_id, log=lambda message: None):
    """Remove what ``records`` describe; return counts by kind."""
    me = (os.getpid(), process_start_time(os.getpid()))
    by_netns = processes_by_netns()
    tags = bridge_tags() if any(record['kind'] == 'bridge' for record in records) else {}
    found = _ours(records, run_id, by_netns, tags, me)
    removed = {'process': len(found['process']), 'netns': len(found['netns']), 'bridge': 0, 'link': 0}
    if found['process']:
        for (pid, _start), what in sorted(found['process'].items()):
            log(f'ending {what} (pid {pid})')
        _terminate(sorted(found['process']))
    for record in found['netns']:
        unpin(record)
        log(f'{record.get("what", "namespace")} released')
    for name in found['bridge']:
        _quiet(['ovs-vsctl', '--timeout=10', '--if-exists', 'del-br', name])
        removed['bridge'] += 1
        log(f'bridge {name} deleted')
    for name, index in found['link']:
        if ifindex(name) == index:  # deleting a bridge or a veth's peer may have removed it already
            _quiet(['ip', 'link', 'del', name])
            log(f'interface {name} deleted')
        removed['link'] += 1
    return removed


def clean(root=None, run_id=None, log=print, servers=None):
    """Undo every run whose owner is gone (or the one named); return (cleaned ids, live ids). A run's ``server``
    records (the parts of a cluster run kept by an agent on another machine) go to ``servers(record)``, which
    cleans that part there and returns None, or why it could not; the local part is removed either way."""
    cleaned, live, unreached = [], [], []
    for name, run_dir, alive in list_runs(root):
        if run_id and name != run_id:
            continue
        if alive and not run_id:
            live.append(name)
            continue
        records = read_records(run_dir)
        undo(records, name, log=lambda message, name=name: log(f'{name}: {message}'))
        left = remaining(records, name)
        if left:
            raise TestbedError(f'run {name}: could not remove {", ".join(left)}')
        for record in (record for record in records if record['kind'] == 'server'):
            error = servers(record) if servers else 'no way to reach servers here'
            if error:
                unreached.append(f'{record["server"]} ({error}; run testbed clean there)')
            else:
                log(f'{name}: its part on {record["server"]} cleaned')
        remove_run_dir(run_dir)
        cleaned.append(name)
    if unreached:
        raise TestbedError(f'cleaned {len(cleaned)} run(s) here, but not on {", ".join(unreached)}')
    return cleaned, live


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
