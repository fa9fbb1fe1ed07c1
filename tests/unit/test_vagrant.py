"""The Vagrant box: the Vagrantfile validates, and it provisions with the project's own setup script."""
import os
import shutil
import subprocess

import pytest

VAGRANT_DIR = os.path.join(os.path.dirname(__file__), '..', '..', 'vagrant')


def test_vagrantfile_provisions_with_the_setup_script():
    with open(os.path.join(VAGRANT_DIR, 'Vagrantfile')) as handle:
        text = handle.read()
    assert 'bash /testbed/scripts/setup.sh' in text, 'the box must use the README\'s setup, not its own recipe'
    assert 'debian/bookworm64' in text and '"virtualbox"' in text and '"libvirt"' in text
    assert '".venv/"' in text, 'the host\'s virtualenv must not be copied into the box'


def test_vagrant_validate(tmp_path):
    if not shutil.which('vagrant'):
        pytest.skip('vagrant is not installed (sudo bash scripts/setup.sh --with-vm installs it)')
    env = dict(os.environ, VAGRANT_HOME=str(tmp_path / 'vagrant.d'), VAGRANT_DOTFILE_PATH=str(tmp_path / 'dot'),
               VAGRANT_CHECKPOINT_DISABLE='1')
    # --ignore-provider: no VirtualBox or libvirt here; the rest of the configuration is checked.
    proc = subprocess.run(['vagrant', 'validate', '--ignore-provider'], cwd=VAGRANT_DIR, env=env,
                          capture_output=True, text=True, timeout=120)
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0 and 'validated successfully' in proc.stdout
