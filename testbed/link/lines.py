"""The delay lines of one network: its userspace-delay links shared out over one process per CPU.

``DelayLines`` holds the network's ``DelayLineLink``s. It starts their processes together (each prints ``ready``
once its sockets are bound), before the switches start, so a link carries frames from the switch's first
announcement; it hands a process new parameters for one link (a reshape, a cut) and waits until they hold; it stops
every process at once and returns each link's counters. A link costs its two sockets and a few objects in a shared
process, not a Python interpreter of its own (14 MB each, measured).
"""
import json
import os
import signal
import subprocess
import threading
import time
from typing import Optional

from testbed.errors import TestbedError
from testbed.link.params import line_groups
from testbed.system import daemon

READY_TIMEOUT_S = 10.0          # a process's ready line, plus READY_PER_LINK_S for each of its links
READY_PER_LINK_S = 0.02
RETIME_TIMEOUT_S = 5.0


class DelayLines:
    """The delay-line processes of one network, in ``node`` (the delay namespace)."""

    def __init__(self, node, run, early_us: int):
        self.node, self.run, self.early_us = node, run, early_us
        self.links = []
        self.processes = []      # [(process, stats path)]
        self.where = {}          # link key -> index into processes
        self.lock = threading.Lock()

    def add(self, link) -> None:
        if self.processes:
            raise TestbedError(f'link {link.name()}: a link with delay, jitter or loss cannot be added to a running '
                               'network on the userspace path (its delay lines have started)')
        self.links.append(link)

    def start(self, seed: int) -> None:
        """Start the delay lines of every link (``launch_lines``)."""
        for process, stats, keys in launch_lines(self.node, self.run, [link.line_spec(seed) for link in self.links],
                                                 self.early_us):
            self.processes.append((process, stats))
            for key in keys:
                self.where[key] = len(self.processes) - 1

    def stats_of(self, link) -> dict:
        """Where a link's live counters are: the stats file of its process and its key there."""
        number = self.where.get(link.key)
        return None if number is None else {'stats': self.processes[number][1], 'key': link.key}

    def retime(self, link, changes: dict) -> None:
        """Hand ``link``'s process new parameters for one or both directions (``{"a_to_b": {...}}``) and wait until
        it holds them (it reads the request on SIGUSR1 and deletes it once applied)."""
        number = self.where.get(link.key)
        if number is None:
            raise TestbedError(f'link {link.name()}: its delay line is not running')
        process, stats = self.processes[number]
        request = f'{stats}.retime'
        with self.lock:   # one request file per process: one change at a time
            if process.poll() is not None:
                raise TestbedError(f'link {link.name()}: its delay line is not running')
            daemon.write_json(request, {link.key: changes})
            process.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + RETIME_TIMEOUT_S
            while os.path.exists(request):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise TestbedError(f'link {link.name()}: the delay line did not take the new parameters')
                time.sleep(0.002)

    def begin_stop(self) -> None:
        """Ask every process to stop (their sockets take the kernel a while to close: let it overlap)."""
        daemon.terminate_all([process for process, _ in self.processes])

    def stop(self) -> dict:
        """Stop every process at once (if ``begin_stop`` did not); {link key: its counters} from their last stats
        files."""
        daemon.stop_all([process for process, _ in self.processes])
        counters = {}
        for _, stats in self.processes:
            try:
                with open(stats) as handle:
                    counters.update(json.load(handle)['links'])
            except (OSError, ValueError, KeyError):
                pass
        self.processes, self.where = [], {}
        return counters


def launch_lines(node, run, specs: list, early_us: int, cpus: Optional[int] = None) -> list:
    """Set the ends of links ``specs`` (``testbed.link.params.line_spec``) up in ``node``'s namespace (one ``ip
    -batch``), start their delay lines there, one process per CPU (``cpus``, default this machine's), each recorded
    in ``run`` with its stats file in ``run``'s folder, and wait until every one is ready. [(process, stats path,
    the keys of its links)]."""
    process = node.popen(['ip', '-batch', '-'], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    _, errors = process.communicate(''.join(f'link set {spec[end]} up\n' for spec in specs
                                            for end in ('a', 'b')).encode())
    if process.returncode:
        raise TestbedError(f'delay lines: cannot set their interfaces up: {errors.decode().strip()}')
    started, launched = [], []
    groups = line_groups(len(specs), cpus or os.cpu_count() or 1)
    for number, members in enumerate(groups):
        stats = run.path(f'delaylines-{number}.json')
        config = {'links': [specs[index] for index in members], 'stats': stats, 'early_us': early_us}
        what = f'delay lines {number} ({len(members)} links)'
        process = daemon.launch(node, 'testbed.link.delayline', config, run, what)
        started.append((process, what))
        launched.append((process, stats, [specs[index]['key'] for index in members]))
    biggest = max((len(members) for members in groups), default=0)
    daemon.wait_ready(started, READY_TIMEOUT_S + READY_PER_LINK_S * biggest)
    return launched
