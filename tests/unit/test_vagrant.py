"""The Vagrant box: the Vagrantfile validates, and it provisions with the project's own setup script."""
import json
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


def test_the_box_is_a_libvirt_box_that_boots_the_kernel_it_carries():
    from testbed.vm.plan import BOX_CMDLINE, box_key, box_metadata, box_vagrantfile
    assert json.loads(box_metadata(5 * 2 ** 30 + 1)) == {'provider': 'libvirt', 'format': 'qcow2',
                                                         'virtual_size': 6}
    text = box_vagrantfile()
    assert 'lv.kernel = File.expand_path("vmlinuz", __dir__)' in text and f'"{BOX_CMDLINE}"' in text
    key = box_key('http://m/debian', 'linux-image-6.1.0-57-amd64 6.1.192-3', ['mininet'], 'ryu==4.34\n', 'abc')
    assert key != box_key('http://m/debian', 'linux-image-6.1.0-57-amd64 6.1.192-3', ['mininet', 'make'],
                          'ryu==4.34\n', 'abc')
    assert key != box_key('http://m/debian', 'linux-image-6.1.0-57-amd64 6.1.192-3', ['mininet'], 'ryu==4.34\n',
                          'abd')


def test_the_vagrantfile_takes_the_test_box_and_emulation_only_when_asked():
    with open(os.path.join(VAGRANT_DIR, 'Vagrantfile')) as handle:
        text = handle.read()
    assert 'ENV.fetch("TESTBED_VAGRANT_BOX", "debian/bookworm64")' in text
    assert 'if ENV["TESTBED_VAGRANT_EMULATED"] == "1"' in text
    assert 'forwarded_port", guest: 8168, host: 8168, host_ip: "127.0.0.1"' in text


def test_the_setup_script_lists_its_packages_without_root():
    proc = subprocess.run(['bash', os.path.join(VAGRANT_DIR, '..', 'scripts', 'setup.sh'), '--print-packages'],
                          capture_output=True, text=True)
    packages = proc.stdout.split()
    assert proc.returncode == 0 and 'mininet' in packages and 'openvswitch-switch' in packages
    assert 'make' in packages, 'a fresh box has no make, and the README runs sudo make demo in it'
