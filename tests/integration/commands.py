"""Helpers for tests that run the ``testbed`` command as a separate process (as users do)."""
import subprocess
import sys
import time

WAIT_S = 120


def start_testbed(*args, **kwargs):
    """``python -m testbed ARGS`` with its stdout and stderr piped (text)."""
    return subprocess.Popen([sys.executable, '-m', 'testbed', *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def wait_for_line(proc, text, timeout=WAIT_S):
    """Read the command's stderr until a line holds ``text``; the lines read so far (the command is killed and the
    test fails if it never comes)."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    proc.kill()
    raise AssertionError(f'testbed never printed {text!r}: {"".join(seen)}')
