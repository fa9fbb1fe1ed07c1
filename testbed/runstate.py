"""Run registry and scoped cleanup: what each run created, so exactly that can be removed.

Every run gets a directory ``$TESTBED_RUN_ROOT/<run id>/`` (default ``/run/testbed``) holding ``owner.json`` (the
PID and start time of the process that owns the run) and ``records.jsonl``, one JSON object per created object,
appended and flushed as soon as the object exists:

- ``process``: a PID with its start time (``/proc/PID/stat`` field 22), so a recycled PID is never signalled;
- ``netns``: a node's network namespace by (device, inode) plus the names of the interfaces created in it; a
  process is only ended for being in that namespace while the namespace still holds one of those interfaces;
- ``bridge``: an OVS bridge tagged ``external_ids:testbed-run=<run id>``; only a bridge with that tag is deleted;
- ``link``: an interface in the root namespace by name and ifindex; only that ifindex is deleted.

``clean()`` undoes the records of runs whose owner is gone (killed, crashed), or of one given run. It never uses
``mn -c``, ``pkill -f`` or ``killall`` and never touches what it did not record.
"""
import json
import os
import shutil
import signal
import subprocess
import time

DEFAULT_ROOT = '/run/testbed'
RUN_TAG = 'testbed-run'


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


def netns_id(pid='self'):
    """(device, inode) naming the network namespace of a process."""
    info = os.stat(f'/proc/{pid}/ns/net')
    return info.st_dev, info.st_ino


def interfaces_of(pid):
    """Interface names in the network namespace of ``pid`` (from /proc/PID/net/dev)."""
    try:
        with open(f'/proc/{pid}/net/dev') as handle:
            lines = handle.read().splitlines()[2:]
    except OSError:
        return set()
    return {line.split(':', 1)[0].strip() for line in lines}


def ifindex(name):
    """ifindex of an interface in our namespace, or None."""
    try:
        with open(f'/sys/class/net/{name}/ifindex') as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return None


def _quiet(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


class Run:
    """The records of one run of the testbed (one network, one experiment, ...)."""

    def __init__(self, label='run', root=None):
        self.root = root or run_root()
        self.id = f'{time.strftime("%Y%m%d-%H%M%S")}-{os.getpid()}-{label}'[:64]
        self.dir = os.path.join(self.root, self.id)
        os.makedirs(self.dir, mode=0o755, exist_ok=False)
        owner = {'pid': os.getpid(), 'start': process_start_time(os.getpid()), 'label': label,
                 'created': time.time()}
        with open(os.path.join(self.dir, 'owner.json'), 'w') as handle:
            json.dump(owner, handle)
        self._records = open(os.path.join(self.dir, 'records.jsonl'), 'a', buffering=1)

    def record(self, kind, **fields):
        fields['kind'] = kind
        self._records.write(json.dumps(fields) + '\n')
        self._records.flush()
        os.fsync(self._records.fileno())

    def record_process(self, pid, what):
        self.record('process', pid=pid, start=process_start_time(pid), what=what)

    def record_netns(self, pid, interfaces, what):
        dev, ino = netns_id(pid)
        self.record('netns', dev=dev, ino=ino, interfaces=sorted(interfaces), what=what)

    def record_bridge(self, name):
        self.record('bridge', name=name)

    def record_link(self, name):
        index = ifindex(name)
        if index is not None:
            self.record('link', name=name, ifindex=index)

    def path(self, name):
        """A file inside the run directory (logs, stats)."""
        return os.path.join(self.dir, name)

    def close(self, remove=True):
        """End the run after its objects were removed the normal way."""
        if self._records and not self._records.closed:
            self._records.close()
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)


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
            runs.append((name, run_dir, process_alive(owner.get('pid'), owner.get('start'))))
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
        time.sleep(0.05)
    _signal_all(pids, signal.SIGKILL)


def _processes_in_netns(dev, ino, interfaces):
    """(pid, start) of processes in the namespace (dev, ino), if it still holds one of ``interfaces``."""
    found, verified = [], False
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            info = os.stat(f'/proc/{entry}/ns/net')
        except OSError:
            continue
        if (info.st_dev, info.st_ino) != (dev, ino):
            continue
        if not verified:
            verified = bool(interfaces_of(entry) & set(interfaces)) or not interfaces
            if not verified:
                return []  # the inode was reused by a namespace that is not ours
        found.append((int(entry), process_start_time(entry)))
    return found


def undo(records, run_id, log=lambda message: None):
    """Remove what ``records`` describe; return counts by kind."""
    removed = {'process': 0, 'bridge': 0, 'link': 0, 'netns': 0}
    victims = set()
    for record in records:
        if record['kind'] == 'process' and process_alive(record['pid'], record.get('start')):
            victims.add((record['pid'], record['start']))
        elif record['kind'] == 'netns':
            members = _processes_in_netns(record['dev'], record['ino'], record.get('interfaces', []))
            if members:
                removed['netns'] += 1
                log(f'namespace of {record.get("what", "?")}: ending {len(members)} process(es)')
            victims.update(members)
    victims.discard((os.getpid(), process_start_time(os.getpid())))
    if victims:
        removed['process'] = len(victims)
        _terminate(sorted(victims))
    bridges = [r['name'] for r in records if r['kind'] == 'bridge']
    for name in dict.fromkeys(bridges):
        tag = _quiet(['ovs-vsctl', '--timeout=5', 'get', 'bridge', name, f'external_ids:{RUN_TAG}'])
        if tag.returncode == 0 and tag.stdout.strip().strip('"') == run_id:
            _quiet(['ovs-vsctl', '--timeout=10', '--if-exists', 'del-br', name])
            removed['bridge'] += 1
            log(f'bridge {name} deleted')
    for record in records:
        if record['kind'] == 'link' and ifindex(record['name']) == record['ifindex']:
            _quiet(['ip', 'link', 'del', record['name']])
            removed['link'] += 1
            log(f'interface {record["name"]} deleted')
    return removed


def clean(root=None, run_id=None, log=print):
    """Undo every run whose owner is gone (or the one named); return (cleaned ids, live ids)."""
    cleaned, live = [], []
    for name, run_dir, alive in list_runs(root):
        if run_id and name != run_id:
            continue
        if alive and not run_id:
            live.append(name)
            continue
        undo(read_records(run_dir), name, log=lambda message, name=name: log(f'{name}: {message}'))
        shutil.rmtree(run_dir, ignore_errors=True)
        cleaned.append(name)
    return cleaned, live
