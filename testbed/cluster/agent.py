"""The testbed's agent on a server of a cluster run: that server's run records, kept where the objects are.

A cluster run starts one agent per server over ssh (``python -m testbed.cluster.agent LABEL``). The agent opens a
run in the server's own run root (``testbed.system.runstate``), probes the server's kernel
(``testbed.system.probe``: each server takes its own kernel or userspace path per feature), and answers one JSON
line with its run id and those paths. Then each line it reads names an object the client just created on that
server, recorded before the client goes on:

- ``{"process": PID, "what": ...}``;
- ``{"netns": PID, "name": ..., "what": ...}``: the namespace is pinned, so every process in it ends with the run;
- ``{"bridge": NAME}``: tagged with the agent's run id by the client;
- ``{"link": NAME}``: an interface in the server's root namespace, by its name and current index.

Three requests create as well as record, so that a client killed in between cannot leave anything unrecorded:
``{"tap": NAME, "user": USER}`` (a tunnel's tap), ``{"rename": [TAP, PORT], "mac": MAC}`` (that tap becoming a
switch's port) and ``{"veth": [NAME, PEER], "macs": [MAC, MAC], "into": [PID, PID]}`` (a link between two switches,
or between a node and the delay namespace: an end with a PID is made in that process's namespace).
``{"delaylines": [SPEC, ...], "into": PID}`` starts the delay lines of those links (``testbed.link.lines``) in
that namespace, this server's own (one process per CPU here, children of the agent, so they end with it), and
answers once they are ready. ``{"file": NAME, "text": TEXT}`` writes a file of the run (a node's configuration: a
daemon there reads it) and answers its ``path``; without ``text`` it only answers where it would be.

Each request gets ``{"ok": true}`` or ``{"error": ...}``. ``{"stop": true}``, the end of its input (the client
died: its ssh connection closed) or SIGTERM/SIGHUP make the agent remove what its records still name, answer what
is left, and exit.
If the agent itself is killed, ``testbed clean`` on the client finishes the job: the client's run records each
server's part (``server``), and cleaning it runs ``python -m testbed.cluster.agent --clean RUN`` there, which waits
for the agent to finish by itself (AGENT_EXIT_WAIT_S) and then removes what its run still names.
"""
import json
import signal
import subprocess
import sys
import time

from testbed.errors import TestbedError
from testbed.link.lines import launch_lines
from testbed.system.probe import FEATURES, current_plan, early_release_us
from testbed.system.runstate import Run, clean, free_ifindex, ifindex, list_runs

AGENT_EXIT_WAIT_S = 20.0   # how long ``--clean`` lets a live agent finish its own cleanup


def _answer(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + '\n')
    sys.stdout.flush()


def handle(run: Run, request: dict) -> dict:
    """Carry out one request (see above) in ``run``: on a server by its agent, or on the client itself for nodes on
    'localhost'; what to answer besides ``ok``."""
    if 'process' in request:
        run.record_process(int(request['process']), str(request.get('what', 'process')))
    elif 'netns' in request:
        run.record_netns(int(request['netns']), str(request['name']), str(request.get('what', 'namespace')))
    elif 'bridge' in request:
        run.record_bridge(str(request['bridge']))
    elif 'link' in request:
        run.record_link(str(request['link']))
    elif 'tap' in request:
        create_tap(run, str(request['tap']), str(request.get('user', 'root')))
    elif 'veth' in request:
        create_veth(run, request['veth'], request.get('macs') or [None, None], request.get('into') or [None, None])
    elif 'file' in request:
        text = request.get('text')
        return {'path': run.file(str(request['file']), None if text is None else str(text))}
    elif 'delaylines' in request:
        launch_lines(InNamespace(int(request['into'])), run, list(request['delaylines']), early_release_us())
    elif 'rename' in request:
        rename_link(run, *(str(name) for name in request['rename']), mac=request.get('mac'))
    else:
        raise ValueError(f'unknown request {sorted(request)}')
    return {}


def _ip(*args: str) -> None:
    done = subprocess.run(['ip', *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f'ip {" ".join(args)}: {done.stderr.strip()}')


def create_tap(run: Run, name: str, user: str) -> None:
    """A tunnel's tap in this root namespace, recorded the moment it exists (on a server by the agent, which a
    killed client cannot interrupt between the two)."""
    _ip('tuntap', 'add', 'dev', name, 'mode', 'tap', 'user', user)
    run.record_link(name)


def rename_link(run: Run, name: str, new_name: str, mac=None) -> None:
    """A recorded interface of this root namespace renamed (a tunnel's tap becoming a switch port), and recorded
    under its new name at once."""
    _ip('link', 'set', name, 'name', new_name, *(['address', str(mac)] if mac else []))
    run.record_link(new_name)


def create_veth(run: Run, names: list, macs: list, netns: list) -> None:
    """A veth pair in this root namespace or in the namespaces of the processes ``netns`` names (a PID, or None for
    the root's). An end in the root namespace is recorded with its index before it exists (deleting one end deletes
    the pair); an end in a node's namespace ends with it."""
    ends = [[f'name {name}', *([f'address {mac}'] if mac else []), *([f'netns {int(pid)}'] if pid else [])]
            for name, mac, pid in zip((str(name) for name in names), macs, netns)]
    if netns[0] and not netns[1]:
        ends.reverse()   # the root's end first: ip gives an index to the first end only
    rooted = next((str(name) for name, pid in zip(names, netns) if not pid), None)
    while True:
        index = free_ifindex() if rooted else None
        if rooted:
            run.record_link(rooted, index)
        try:
            _ip('link', 'add', *' '.join(ends[0] + ([f'index {index}'] if index else [])).split(), 'type', 'veth',
                'peer', *' '.join(ends[1]).split())
            return
        except RuntimeError as exc:
            if not rooted or 'File exists' not in str(exc) or ifindex(rooted) is not None:
                raise   # an index taken by chance: draw again (the stale record names nothing)


class InNamespace:
    """Processes started in the network namespace of process ``pid`` (a node's, on this server)."""

    def __init__(self, pid: int):
        self.pid = pid

    def popen(self, args: list, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(['nsenter', f'--net=/proc/{self.pid}/ns/net', *args], **kwargs)


def serve(label: str) -> int:
    run = Run(f'cluster-{label}'[:40])

    def finish(*_args):
        raise SystemExit(0)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, finish)
    try:
        plan = current_plan()
        _answer({'run': run.id, 'paths': {feature: plan.path(feature) for feature in FEATURES}})
        for line in sys.stdin:
            try:
                request = json.loads(line)
                if request.get('stop'):
                    break
                _answer({'ok': True, **handle(run, request)})
            except Exception as exc:  # a bad line is answered, never the end of the run's records
                _answer({'error': f'{type(exc).__name__}: {exc}'})
    except SystemExit:
        pass
    finally:
        left = run.sweep()
        run.close(remove=not left)
        try:
            _answer({'left': left})
        except OSError:
            pass
    return 0


def clean_run(run_id: str) -> int:
    """Remove what run ``run_id`` (an agent's) left on this server, once its agent has ended (waiting for it to
    clean up by itself first); 0 when nothing of it is left, 1 with the reason on stderr."""
    deadline = time.monotonic() + AGENT_EXIT_WAIT_S
    while any(name == run_id and alive for name, _dir, alive in list_runs()) and time.monotonic() < deadline:
        time.sleep(0.2)
    runs = {name: alive for name, _dir, alive in list_runs()}
    if run_id not in runs:
        return 0   # the agent removed it all
    if runs[run_id]:
        print(f'run {run_id}: its agent still runs after {AGENT_EXIT_WAIT_S:.0f} s', file=sys.stderr)
        return 1
    try:
        clean(run_id=run_id, log=lambda message: None)
    except TestbedError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    if sys.argv[1:2] == ['--clean'] and len(sys.argv) == 3:
        sys.exit(clean_run(sys.argv[2]))
    sys.exit(serve(sys.argv[1] if len(sys.argv) > 1 else 'run'))
