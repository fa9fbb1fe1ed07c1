"""A command on a server over ssh, in batch mode: the package's one ssh client.

``TESTBED_SSH_CONFIG`` names an ssh client configuration (``ssh -F``) for every ssh the testbed starts toward a
server; a fake cluster writes one (``testbed cluster fake`` prints it). Without it, ssh reads the user's own.
"""
import os
import shlex
import subprocess
from typing import List

SSH_CONFIG_ENV = 'TESTBED_SSH_CONFIG'
CONNECT_TIMEOUT_S = 5


def ssh_options() -> List[str]:
    """The options every ssh toward a server starts with: batch mode, and the configuration file if one is set."""
    config = os.environ.get(SSH_CONFIG_ENV)
    return (['-F', config] if config else []) + ['-o', 'BatchMode=yes', '-o', f'ConnectTimeout={CONNECT_TIMEOUT_S}']


def ssh_argv(server: str, command: List[str]) -> List[str]:
    """``ssh`` that runs ``command`` (a list of words, quoted for the remote shell) on ``server``."""
    return ['ssh', *ssh_options(), server, shlex.join(command)]


def run_on(server: str, command: List[str], timeout: float = 20.0) -> subprocess.CompletedProcess:
    """Run ``command`` on ``server``; the result carries the exit code, stdout and stderr (exit 255: ssh itself
    failed, or the command did not finish within ``timeout``)."""
    argv = ssh_argv(server, command)
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 255, '', f'no answer within {timeout:.0f} s')
