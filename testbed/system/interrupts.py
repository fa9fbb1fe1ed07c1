"""Signals as clean stops: SIGTERM and SIGHUP unwind like Ctrl-C, and short critical sections hold them.

- ``stop_on_signals()`` turns SIGTERM and SIGHUP into ``Stopped`` for a ``with`` block (Ctrl-C is Python's
  ``KeyboardInterrupt`` already), so ``finally`` blocks stop the network whichever way a run is ended;
- ``deferred_signals()`` holds SIGINT, SIGTERM and SIGHUP while the block runs and delivers them after it: for
  "create an object and record it" (no object exists unrecorded) and for stopping a network (a second Ctrl-C
  must not abandon half of the cleanup);
- ``exit_code(stop)`` is the shell's convention, 128 + the signal number (130 for Ctrl-C, 143 for SIGTERM).

Only the main thread can handle signals; elsewhere both context managers do nothing.
"""
import contextlib
import signal
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(Exception):
    """SIGTERM or SIGHUP arrived: unwind so that ``finally`` blocks stop the network."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def exit_code(stop: BaseException) -> int:
    """128 + the signal that ended the run (130 for Ctrl-C)."""
    return 128 + (stop.signum if isinstance(stop, Stopped) else signal.SIGINT)


def _in_main_thread():
    return threading.current_thread() is threading.main_thread()


def _raise_stopped(signum, _frame):
    raise Stopped(signum)


def _restore(previous):
    for sig, handler in previous.items():
        signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


@contextlib.contextmanager
def stop_on_signals():
    """Turn SIGTERM and SIGHUP into ``Stopped`` for a ``with`` block."""
    if not _in_main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        _restore(previous)


@contextlib.contextmanager
def deferred_signals():
    """Hold SIGINT, SIGTERM and SIGHUP until the block ends, then deliver each that arrived (once)."""
    if not _in_main_thread():
        yield
        return
    pending = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: pending.append(signum)) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        _restore(previous)
        for signum in dict.fromkeys(pending):
            signal.raise_signal(signum)
