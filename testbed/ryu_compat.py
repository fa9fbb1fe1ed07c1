"""Start a Ryu-family controller manager on current Pythons: Ryu 4.34 (default) or os-ken 3.x.

``python -m testbed.ryu_compat [--runtime ryu|os-ken] [manager arguments]`` is ``ryu-manager`` (or
``osken-manager``) with what each needs here, and is how the testbed (and a user with their own app) starts a
controller:
- Ryu 4.34 (its last release) imports ``eventlet.wsgi.ALREADY_HANDLED``, which eventlet 0.41 no longer has; defining
  it before ``ryu.cmd.manager`` is imported is enough for Ryu to run with eventlet 0.41.3 and dnspython >= 2
  (measured: without it ``ryu-manager`` stops at that import; eventlet 0.30 fails differently).
- os-ken 3.x (OpenStack's maintained fork; 4.0 and later have no manager) runs as it is.
Apps are best named as modules (``controllers.router``): both managers load a file path with
``SourceFileLoader.load_module``, which Python 3.15 removes.
"""
import os
import sys

RUNTIMES = ('ryu', 'os-ken')
DEFAULT_RUNTIME = 'ryu'


def patch_eventlet():
    """Give eventlet.wsgi the sentinel Ryu 4.34 expects."""
    import eventlet.wsgi
    if not hasattr(eventlet.wsgi, 'ALREADY_HANDLED'):
        eventlet.wsgi.ALREADY_HANDLED = object()


def split_runtime(args):
    """(runtime, the manager's arguments) from ``[--runtime R] args...``; ValueError for an unknown runtime."""
    runtime = DEFAULT_RUNTIME
    if args[:1] == ['--runtime'] and len(args) > 1:
        runtime, args = args[1], args[2:]
    elif args[:1] and args[0].startswith('--runtime='):
        runtime, args = args[0].split('=', 1)[1], args[1:]
    if runtime not in RUNTIMES:
        raise ValueError(f'unknown controller runtime {runtime!r} (choose {" or ".join(RUNTIMES)})')
    return runtime, args


def main(argv=None):
    try:
        runtime, args = split_runtime(list(sys.argv[1:] if argv is None else argv))
    except ValueError as exc:
        print(f'testbed.ryu_compat: {exc}', file=sys.stderr)
        return 2
    parent = os.environ.get('TESTBED_PARENT_PID')
    if parent:  # started by a testbed run: end with it, also when it is killed
        from testbed.system.daemon import die_with_parent
        die_with_parent(int(parent))
    if runtime == 'ryu':
        patch_eventlet()
        from ryu.cmd.manager import main as manager_main
        sys.argv = ['ryu-manager'] + args
    else:
        from os_ken.cmd.manager import main as manager_main
        sys.argv = ['osken-manager'] + args
    return manager_main()


if __name__ == '__main__':
    sys.exit(main())
