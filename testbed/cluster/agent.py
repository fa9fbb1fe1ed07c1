"""The testbed's agent on a server of a cluster run: that server's run records, kept where the objects are.

A cluster run starts one agent per server over ssh (``python -m testbed.cluster.agent LABEL``), which opens a run
in the server's own run root (``testbed.system.runstate``) and answers one JSON line with its run id. Then each line
it reads names an object the client just created on that server, recorded before the client goes on:
``{"process": PID, "what": ...}``, ``{"netns": PID, "name": ..., "what": ...}`` (the namespace is pinned, so every
process in it ends with the run), ``{"bridge": NAME}`` (tagged with the agent's run id by the client) or
``{"link": NAME}`` (an interface in the server's root namespace, by its name and current index); each gets
``{"ok": true}`` or ``{"error": ...}``. ``{"stop": true}``, the end of its input (the client died: its ssh
connection closed) or SIGTERM/SIGHUP make it remove what its records still name, answer what is left, and exit.
If the agent itself is killed, ``testbed clean`` on the server finishes the job, as for any run.
"""
import json
import signal
import sys

from testbed.system.runstate import Run


def _answer(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + '\n')
    sys.stdout.flush()


def _handle(run: Run, request: dict) -> None:
    if 'process' in request:
        run.record_process(int(request['process']), str(request.get('what', 'process')))
    elif 'netns' in request:
        run.record_netns(int(request['netns']), str(request['name']), str(request.get('what', 'namespace')))
    elif 'bridge' in request:
        run.record_bridge(str(request['bridge']))
    elif 'link' in request:
        run.record_link(str(request['link']))
    else:
        raise ValueError(f'unknown request {sorted(request)}')


def serve(label: str) -> int:
    run = Run(f'cluster-{label}'[:40])

    def finish(*_args):
        raise SystemExit(0)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, finish)
    try:
        _answer({'run': run.id})
        for line in sys.stdin:
            try:
                request = json.loads(line)
                if request.get('stop'):
                    break
                _handle(run, request)
                _answer({'ok': True})
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


if __name__ == '__main__':
    sys.exit(serve(sys.argv[1] if len(sys.argv) > 1 else 'run'))
