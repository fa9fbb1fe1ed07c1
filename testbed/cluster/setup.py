"""``testbed cluster setup SERVER...``: the one-time steps that let a cluster run reach its servers, then the doctor.

For each server, as the user a cluster run will be (the one who ran sudo: Mininet's ``findUser``):

1. **ssh in batch mode.** If it fails for want of a key, that user gets one here (``ssh-keygen``, ed25519, only if
   there is none), and ``ssh-copy-id`` installs it on the server, asking the server's password once, when a terminal
   is attached; without one, the command to run is printed.
2. **sshd permits tunnels** (the cluster edition links servers with ``ssh -w``): if ``sshd -T`` there says
   otherwise, ``PermitTunnel yes`` goes on the first lines of the server's ``/etc/ssh/sshd_config`` and sshd reloads
   (``plan.permit_tunnel_script``).
3. **sudo without a password** is checked; the testbed never edits sudoers, it prints the line to add.

Then ``testbed cluster doctor`` runs on the same servers.
"""
import os
import pwd
import subprocess
import sys
from typing import Callable, List

from mininet.examples.cluster import findUser

from testbed.cluster import doctor
from testbed.cluster.plan import permit_tunnel_script, sudoers_line
from testbed.cluster.remote import run_on


def _key_for(user: str) -> str:
    """The user's ed25519 key (made if the user has none); the public key's path."""
    home = pwd.getpwnam(user).pw_dir
    private = os.path.join(home, '.ssh', 'id_ed25519')
    if not os.path.exists(private):
        subprocess.run(['sudo', '-u', user, 'mkdir', '-p', '-m', '700', os.path.dirname(private)], check=True)
        subprocess.run(['sudo', '-u', user, 'ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', private], check=True)
    return private + '.pub'


def set_up(server: str, user: str, say: Callable[[str], None]) -> bool:
    """The one-time steps on ``server``; True if ssh, tunnels and sudo are ready afterwards."""
    reached = run_on(server, ['true'], user=user)
    if reached.returncode != 0 and 'Permission denied' in reached.stderr:
        public = _key_for(user)
        copy = ['sudo', '-u', user, 'ssh-copy-id', '-i', public, f'{user}@{server}']
        if sys.stdin.isatty():
            say(f'{server}: installing {public} for {user} (ssh-copy-id asks the server\'s password once)')
            subprocess.run(copy)
            reached = run_on(server, ['true'], user=user)
        else:
            say(f'{server}: no key of {user} is accepted; run in a terminal: {" ".join(copy[3:])}')
    if reached.returncode != 0:
        say(f'{server}: ssh in batch mode fails ({(reached.stderr.strip().splitlines() or ["?"])[-1]}); '
            f'the doctor below says more')
        return False
    say(f'{server}: ssh in batch mode works for {user}')
    tunnels = run_on(server, ['sudo', '-n', 'sh', '-c', permit_tunnel_script()], user=user)
    state = tunnels.stdout.strip().splitlines()[-1:] or ['']
    if tunnels.returncode == 0 and state[0] in ('already', 'set'):
        say(f'{server}: sshd permits tunnels' + (' (set now, sshd reloaded)' if state[0] == 'set' else ''))
    else:
        say(f'{server}: could not make sshd permit tunnels: {tunnels.stderr.strip()[-200:] or tunnels.stdout[-200:]}')
    sudo = run_on(server, ['sudo', '-n', 'true'], user=user)
    if sudo.returncode != 0:
        say(f'{server}: sudo asks {user} for a password; add on the server (visudo -f /etc/sudoers.d/testbed): '
            f'{sudoers_line(user)}')
    return tunnels.returncode == 0 and sudo.returncode == 0


def run_setup(servers: List[str], say: Callable[[str], None] = print) -> int:
    user = findUser()
    ready = [set_up(server, user, say) for server in servers]
    say('')
    rows = doctor.check(servers)
    say('\n'.join(doctor.render(rows)))
    return 0 if all(ready) and all(row['ok'] for row in rows) else 1
