"""A command on a server over ssh, in batch mode, and the testbed's agent there: the package's one ssh client.

``TESTBED_SSH_CONFIG`` names an ssh client configuration (``ssh -F``) for every ssh the testbed starts toward a
server; a fake cluster writes one (``testbed cluster fake`` prints it). Without it, ssh reads the user's own.
"""
import json
import os
import pwd
import select
import shlex
import subprocess
import sys
from typing import List, Optional

from testbed import REPO
from testbed.errors import TestbedError

SSH_CONFIG_ENV = 'TESTBED_SSH_CONFIG'
CONNECT_TIMEOUT_S = 5
AGENT_TIMEOUT_S = 20.0
CLEAN_TIMEOUT_S = 60.0   # the agent's own cleanup (AGENT_EXIT_WAIT_S), then what it left


def ssh_options() -> List[str]:
    """The options every ssh toward a server starts with: batch mode, and the configuration file if one is set."""
    config = os.environ.get(SSH_CONFIG_ENV)
    return (['-F', config] if config else []) + ['-o', 'BatchMode=yes', '-o', f'ConnectTimeout={CONNECT_TIMEOUT_S}']


def ssh_argv(server: str, command: List[str], user: Optional[str] = None) -> List[str]:
    """``ssh`` that runs ``command`` (a list of words, quoted for the remote shell) on ``server``; as ``user`` there
    and with ``user``'s own keys here (as the cluster edition reaches its servers), if one is given."""
    if not user:
        return ['ssh', *ssh_options(), server, shlex.join(command)]
    as_user = ['sudo', '-E', '-u', user] if user != pwd.getpwuid(os.geteuid()).pw_name else []
    return [*as_user, 'ssh', *ssh_options(), f'{user}@{server}', shlex.join(command)]


def run_on(server: str, command: List[str], timeout: float = 20.0,
           user: Optional[str] = None) -> subprocess.CompletedProcess:
    """Run ``command`` on ``server`` (as ``user``, see ``ssh_argv``); the result carries the exit code, stdout and
    stderr (exit 255: ssh itself failed, or the command did not finish within ``timeout``)."""
    argv = ssh_argv(server, command, user)
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 255, '', f'no answer within {timeout:.0f} s')


def agent_command(*args: str) -> List[str]:
    """The testbed's agent on a server, as root, from the testbed at this one's path (``testbed.cluster.agent``)."""
    return ['sudo', '-n', '-E', 'env', f'PYTHONPATH={REPO}', sys.executable, '-m', 'testbed.cluster.agent', *args]


def clean_on_server(record: dict) -> Optional[str]:
    """Clean a dead cluster run's part on a server (a ``server`` record: server, the agent's run, the user); None
    once done, else why not. The agent there removes it by itself when its client's connection drops; this waits
    for it and removes what is left if the agent itself was killed."""
    done = run_on(record['server'], agent_command('--clean', str(record['run'])), timeout=CLEAN_TIMEOUT_S,
                  user=record.get('user'))
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or [f'exit {done.returncode}'])[-1]


class Agent:
    """The testbed's agent on ``server`` (``testbed.cluster.agent``, as root through sudo, reached as ``user``), over
    one ssh connection held open: it records
    what the client creates there and removes it when told to stop or when the connection drops. The testbed must
    lie at the same path on the server (``testbed cluster doctor`` checks)."""

    def __init__(self, server: str, label: str, user: Optional[str] = None):
        self.server = server
        self.process = subprocess.Popen(ssh_argv(server, agent_command(label), user), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        start_new_session=True)
        first = self._reply()
        if 'run' not in first:
            raise TestbedError(f'server {server}: the testbed agent did not start: {first.get("error")}')
        self.run_id = str(first['run'])
        self.paths = dict(first.get('paths', {}))   # the server's own path per feature, from its probe

    def _reply(self) -> dict:
        ready, _, _ = select.select([self.process.stdout], [], [], AGENT_TIMEOUT_S)
        line = self.process.stdout.readline() if ready else ''
        if not line:
            self.process.kill()
            error = self.process.stderr.read().strip().splitlines() if not ready or self.process.wait() else []
            return {'error': error[-1] if error else f'no answer within {AGENT_TIMEOUT_S:.0f} s'}
        return json.loads(line)

    def record(self, **request) -> dict:
        """Record (or create and record) an object on the server before the client goes on (``process=PID``,
        ``netns=PID, name=...``, ``bridge=NAME``, with ``what=...``: see ``testbed.cluster.agent``); the answer."""
        self.process.stdin.write(json.dumps(request) + '\n')
        self.process.stdin.flush()
        answer = self._reply()
        if not answer.get('ok'):
            raise TestbedError(f'server {self.server}: could not record {request}: {answer.get("error")}')
        return answer

    def stop(self) -> List[str]:
        """Remove everything recorded on the server; return what could not be removed."""
        if self.process.poll() is not None:
            return []
        try:
            self.process.stdin.write(json.dumps({'stop': True}) + '\n')
            self.process.stdin.flush()
        except OSError:
            return []
        answer = self._reply()
        self.process.wait(timeout=AGENT_TIMEOUT_S)
        return [f'{self.server}: {what}' for what in answer.get('left', [])]
