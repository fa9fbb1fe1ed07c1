"""Run Ryu 4.34 on current Pythons: the one place that knows its eventlet workaround.

Ryu 4.34 (its last release) imports ``eventlet.wsgi.ALREADY_HANDLED``, which eventlet 0.41 no longer has; defining
it before ``ryu.cmd.manager`` is imported is enough for Ryu to run with eventlet 0.41.3 and dnspython >= 2
(measured: without it ``ryu-manager`` stops at that import; eventlet 0.30 fails differently).
``python -m testbed.ryu_compat [ryu-manager arguments]`` is ``ryu-manager`` with that fix, and is how the testbed
(and a user with their own Ryu app) starts a controller.
"""
import os
import sys


def patch_eventlet():
    """Give eventlet.wsgi the sentinel Ryu 4.34 expects."""
    import eventlet.wsgi
    if not hasattr(eventlet.wsgi, 'ALREADY_HANDLED'):
        eventlet.wsgi.ALREADY_HANDLED = object()


def main(argv=None):
    parent = os.environ.get('TESTBED_PARENT_PID')
    if parent:  # started by a testbed run: end with it, also when it is killed
        from testbed.system.daemon import die_with_parent
        die_with_parent(int(parent))
    patch_eventlet()
    from ryu.cmd.manager import main as ryu_main
    sys.argv = ['ryu-manager'] + list(sys.argv[1:] if argv is None else argv)
    return ryu_main()


if __name__ == '__main__':
    sys.exit(main())
