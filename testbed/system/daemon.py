"""Small helpers shared by the testbed's userspace daemons (delay line, 6to4 encapsulator)."""
import ctypes
import json
import os
import resource
import select
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1


def die_with_parent(parent=None):
    """Ask the kernel to SIGTERM this process when its parent (the testbed run) dies; if that parent (``parent``,
    the PID that started us) died before the request was made, end now."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
    if parent is not None and os.getppid() != parent:
        sys.exit(1)


def readable(fds, timeout):
    """The descriptors of ``fds`` that are readable within ``timeout`` seconds. poll(), not select(): a large
    network's process holds more than select()'s 1024 descriptors."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    return [fd for fd, _ in poller.poll(max(0.0, timeout) * 1000)]


def raise_file_limit(needed):
    """Lift this process's soft limit on open files towards ``needed`` (up to the hard limit) when it is lower: a
    large network holds a terminal per node, a delay-line process two sockets per link."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY else
                                                    min(hard, needed), hard))


class LoopSignals:
    """Signals for a daemon's select loop: SIGTERM and SIGINT ask it to stop, SIGUSR1 to reload. Handlers only
    take note; a wake-up pipe (``fd``, to select on) makes the loop's select return at once, since Python resumes
    an interrupted select by itself."""

    def __init__(self):
        self.stopping = False
        self.reload = False
        self.fd, writer = os.pipe()
        os.set_blocking(self.fd, False)
        os.set_blocking(writer, False)
        signal.set_wakeup_fd(writer)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        signal.signal(signal.SIGUSR1, self._reload)

    def _stop(self, *_):
        self.stopping = True

    def _reload(self, *_):
        self.reload = True

    def drain(self):
        """Empty the wake-up pipe (call when ``fd`` was readable)."""
        try:
            while os.read(self.fd, 512):
                pass
        except BlockingIOError:
            pass


def write_json(path, data):
    """Write ``data`` as JSON so that a reader never sees a half-written file."""
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


def start(node, module, config, run, what, timeout=10.0):
    """Start ``python -m module CONFIG`` inside ``node``, record its PID in ``run``, wait for its ``ready`` line.

    Raises ``TestbedError`` with the daemon's own error line when it does not come up."""
    process = launch(node, module, config, run, what)
    wait_ready([(process, what)], timeout)
    return process


def launch(node, module, config, run, what):
    """Start ``python -m module CONFIG`` inside ``node`` and record its PID in ``run``; do not wait for it."""
    from testbed.system.interrupts import deferred_signals
    if not getattr(node, 'isRemote', False):   # a node on another server (a cluster run) has its parent there
        config = {**config, 'parent': os.getpid()}
    with deferred_signals():  # recorded before a signal can end the run
        process = node.popen([sys.executable, '-m', module, json.dumps(config)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        run.record_process(process.pid, what)
    return process


def wait_ready(started, timeout=10.0):
    """Wait until every daemon of ``started`` ([(process, what)], started together) printed ``ready``. If one does
    not, stop them all and raise ``TestbedError`` with the first failure's own error line."""
    from testbed.errors import TestbedError
    deadline = time.monotonic() + timeout
    waiting = {process.stdout.fileno(): (process, what) for process, what in started}
    failure = None
    while waiting and failure is None:
        ready = readable(list(waiting), deadline - time.monotonic())
        if not ready:
            failure = (*next(iter(waiting.values())), 'no answer')
        for fd in ready:
            process, what = waiting.pop(fd)
            if process.stdout.readline().decode().strip() != 'ready':
                failure = failure or (process, what, None)
    if failure is None:
        return
    failed, what, reason = failure
    failed.kill()
    failed.wait()
    if reason is None:
        error = failed.stderr.read().decode().strip()
        reason = error.splitlines()[-1] if error else 'no answer'
    stop_all([process for process, _ in started])
    raise TestbedError(f'{what} did not start: {reason}')


def start_program(node, run, command, what, ready, timeout=10.0):
    """Start a program that is not ours (dnsmasq, Tayga, unbound) in ``node``, its output to a log in the run
    folder, record it by PID with signals held, and wait until ``ready()``; stop it and raise ``TestbedError`` with
    the end of its log if it does not come up."""
    from testbed.errors import TestbedError
    from testbed.system.interrupts import deferred_signals
    log_path = run.path(f'{what.replace(" ", "-")}.log')
    with open(log_path, 'w') as log, deferred_signals():
        process = node.popen(command, stdout=log, stderr=subprocess.STDOUT)
        run.record_process(process.pid, what)
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            exited = process.poll() is not None
            stop(process)
            with open(log_path) as log:
                error = log.read().strip()[-300:]
            if exited:
                reason = error or f'exit {process.returncode}'
            else:
                reason = f'not ready after {timeout:g} s' + (f': {error}' if error else '')
            raise TestbedError(f'{what} did not start: {reason}')
        time.sleep(0.05)
    return process


def stop(process, grace=5.0):
    """Terminate a daemon started by ``start`` and reap it (kill it if it ignores SIGTERM)."""
    stop_all([process], grace)


def stop_all(processes, grace=5.0):
    """Terminate daemons together, then reap them (killing those that ignore SIGTERM for ``grace`` seconds)."""
    terminate_all(processes)
    reap_all(processes, grace)


def terminate_all(processes):
    """Send SIGTERM to every daemon still running, without waiting (``reap_all`` later)."""
    for process in processes:
        if process is not None and process.poll() is None:
            process.terminate()


def reap_all(processes, grace=5.0):
    """Wait for daemons already sent SIGTERM; kill those still running after ``grace`` seconds."""
    deadline = time.monotonic() + grace
    for process in processes:
        if process is None:
            continue
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv, prog, run, label, errors=(OSError,)):
    """The command line of a daemon: ``python -m PROG CONFIG_JSON``; ``run(config)`` does the work; an error of
    ``errors`` becomes one line on stderr, prefixed with ``label(config)``, and exit code 1."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(f'usage: python -m {prog} CONFIG_JSON', file=sys.stderr)
        return 2
    config = json.loads(argv[0])
    try:
        run(config)
    except errors as exc:
        print(f'{label(config)}: {exc}', file=sys.stderr, flush=True)
        return 1
    return 0
