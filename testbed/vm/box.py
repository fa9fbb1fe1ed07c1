"""The Vagrant box of ``make test-vagrant``: Debian 12 built here, for vagrant-libvirt, in place of the public one.

The project's Vagrantfile names the public ``debian/bookworm64`` box, which cannot be downloaded on machines without
that registry. This builds its stand-in from the machine's own apt mirror, with the VM stage's tools: debootstrap, a
stock kernel, systemd, sshd with Vagrant's well-known key for user ``vagrant``, rsync for the synced folder. The
box carries what provisioning fetches: the packages ``scripts/setup.sh --print-packages`` names, as a local apt
repository (its only apt source), and the wheels of ``requirements.txt`` (pip's only index), so the box needs no
network beyond its host, and provisioning runs the README's setup unchanged. The disk has no boot loader: the box's
own Vagrantfile has libvirt boot the kernel and initramfs it carries (``testbed.vm.plan.box_vagrantfile``).

Cache: ``.cache/vagrant/<key>/testbed-bookworm.box`` (a plain tar) and ``info.json``.
"""
import glob
import json
import os
import shutil
import time

from testbed import REPO
from testbed.errors import TestbedError
from testbed.vm.plan import (BOX_APT, BOX_CMDLINE, BOX_FREE_MB, BOX_PACKAGES, BOX_WHEELS, SUITE, box_key,
                            box_metadata, box_vagrantfile)
from testbed.vm.image import (bootstrap, file_hash, host_mirror, host_release, in_chroot, kernel_package, log,
                              requirements_text, run_checked)

VAGRANT_KEYS = glob.glob('/usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub')
BOX_NAME = 'testbed-bookworm.box'


def cache_dir():
    return os.environ.get('TESTBED_VAGRANT_CACHE', os.path.join(REPO, '.cache', 'vagrant'))


def setup_packages():
    """The Debian packages scripts/setup.sh installs (its own list)."""
    return run_checked(['bash', os.path.join(REPO, 'scripts', 'setup.sh'), '--print-packages'], 'setup.sh').split()


def _write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(text)
    os.chmod(path, mode)


def _carry_packages(rootfs, packages):
    """Download what setup.sh would install (with what it needs) and make it the box's only apt source."""
    script = ('apt-get clean; apt-get install -y -qq --no-install-recommends --download-only ' + ' '.join(packages)
              + f'; mkdir -p {BOX_APT}; mv /var/cache/apt/archives/*.deb {BOX_APT}/; '
              f'cd {BOX_APT} && apt-ftparchive packages . > Packages')
    in_chroot(rootfs, script, 'the box\'s apt repository')
    for old in glob.glob(os.path.join(rootfs, 'etc/apt/sources.list.d/*')):
        os.remove(old)
    _write(os.path.join(rootfs, 'etc/apt/sources.list'),
           f'# make test-vagrant: the packages scripts/setup.sh installs, carried in the box\n'
           f'deb [trusted=yes] file:{BOX_APT} ./\n')


def _carry_wheels(rootfs):
    """The wheels (and the two source packages) of requirements.txt and the setup's build tools, from this
    machine's pip, for the box's Python (the same Debian release, so the same Python)."""
    wheels = rootfs + BOX_WHEELS
    os.makedirs(wheels)
    # Ryu's source package runs its setup hooks to tell its metadata: only with the older setuptools the setup
    # script installs first, hence a virtualenv with just the setup's build tools.
    tools = os.path.join(os.path.dirname(rootfs), 'pip-tools')
    build_tools = ['pip>=23', 'setuptools<67', 'wheel', 'pbr']
    run_checked(['/usr/bin/python3', '-m', 'venv', tools], 'a virtualenv for pip download')
    pip = [os.path.join(tools, 'bin', 'python'), '-m', 'pip', '-q', '--disable-pip-version-check']
    run_checked(pip + ['install', *build_tools], 'the build tools for pip download')
    run_checked(pip + ['download', '--no-build-isolation', '-d', wheels, *build_tools,
                       '-r', os.path.join(REPO, 'requirements.txt')], 'downloading the Python packages for the box')
    shutil.rmtree(tools)
    _write(os.path.join(rootfs, 'etc/pip.conf'),
           f'# make test-vagrant: the packages requirements.txt names, carried in the box\n'
           f'[global]\nno-index = true\nfind-links = {BOX_WHEELS}\n')


def _make_vagrant_user(rootfs):
    key = VAGRANT_KEYS[0]
    run_checked(['chroot', rootfs, 'useradd', '--create-home', '--shell', '/bin/bash', 'vagrant'], 'useradd')
    ssh_dir = os.path.join(rootfs, 'home/vagrant/.ssh')
    os.makedirs(ssh_dir, mode=0o700)
    shutil.copy(key, os.path.join(ssh_dir, 'authorized_keys'))
    run_checked(['chroot', rootfs, 'chown', '-R', 'vagrant:vagrant', '/home/vagrant/.ssh'], 'chown')
    _write(os.path.join(rootfs, 'etc/sudoers.d/vagrant'), 'vagrant ALL=(ALL) NOPASSWD: ALL\n', 0o440)


def _configure_system(rootfs):
    _write(os.path.join(rootfs, 'etc/hostname'), 'testbed\n')
    _write(os.path.join(rootfs, 'etc/hosts'), '127.0.0.1 localhost\n127.0.1.1 testbed\n::1 localhost\n')
    _write(os.path.join(rootfs, 'etc/fstab'), '/dev/vda / ext4 errors=remount-ro 0 1\n')
    _write(os.path.join(rootfs, 'etc/systemd/network/50-dhcp.network'), '[Match]\nName=eth*\n\n[Network]\nDHCP=yes\n')
    wants = os.path.join(rootfs, 'etc/systemd/system/multi-user.target.wants')
    os.makedirs(wants, exist_ok=True)
    if not os.path.lexists(os.path.join(wants, 'systemd-networkd.service')):
        os.symlink('/lib/systemd/system/systemd-networkd.service', os.path.join(wants, 'systemd-networkd.service'))
    _write(os.path.join(rootfs, 'etc/ssh/sshd_config.d/vagrant.conf'), 'UseDNS no\n')
    _write(os.path.join(rootfs, 'etc/machine-id'), '')  # each box made from the image gets its own
    os.remove(os.path.join(rootfs, 'usr/sbin/policy-rc.d'))  # services start in the box


def build_box(rootfs, packages):
    """Build the box in ``rootfs``'s parent folder; return the box file's path and its kernel release."""
    build = os.path.dirname(rootfs)
    bootstrap(rootfs, SUITE, host_mirror())
    if host_release() == SUITE:  # this machine's sources: its release with its updates and security fixes
        os.remove(os.path.join(rootfs, 'etc/apt/sources.list'))
        for source in glob.glob('/etc/apt/sources.list.d/*.sources') + glob.glob('/etc/apt/sources.list'):
            shutil.copy(source, os.path.join(rootfs, os.path.relpath(source, '/')))
    log(f'box: installing {len(BOX_PACKAGES)} packages (systemd, sshd, the stock kernel, ...)')
    install = 'apt-get update -qq; apt-get install -y -qq --no-install-recommends ' + ' '.join(BOX_PACKAGES)
    in_chroot(rootfs, install, 'installing the box\'s packages')
    log(f'box: carrying the {len(packages)} packages of scripts/setup.sh and the wheels of requirements.txt')
    _carry_packages(rootfs, packages)
    _carry_wheels(rootfs)
    _make_vagrant_user(rootfs)
    _configure_system(rootfs)
    run_checked(['chroot', rootfs, 'apt-get', 'clean'], 'apt-get clean')
    vmlinuz = sorted(glob.glob(os.path.join(rootfs, 'boot', 'vmlinuz-*')))[-1]
    release = os.path.basename(vmlinuz)[len('vmlinuz-'):]
    initrd = sorted(glob.glob(os.path.join(rootfs, 'boot', 'initrd.img-*')))[-1]
    shutil.copy(vmlinuz, os.path.join(build, 'vmlinuz'))
    shutil.copy(initrd, os.path.join(build, 'initrd.img'))
    used_mb = int(run_checked(['du', '-sm', rootfs], 'du').split()[0])
    size_mb = used_mb + BOX_FREE_MB
    log(f'box: ext4 disk of {size_mb} MB, as qcow2')
    raw = os.path.join(build, 'disk.raw')
    run_checked(['mkfs.ext4', '-q', '-F', '-L', 'testbed', '-d', rootfs, raw, f'{size_mb}M'], 'mkfs.ext4')
    shutil.rmtree(rootfs)
    run_checked(['qemu-img', 'convert', '-O', 'qcow2', raw, os.path.join(build, 'box.img')], 'qemu-img convert')
    os.remove(raw)
    _write(os.path.join(build, 'metadata.json'), box_metadata(size_mb * 2 ** 20))
    _write(os.path.join(build, 'Vagrantfile'), box_vagrantfile(BOX_CMDLINE))
    box = os.path.join(build, BOX_NAME)
    parts = ['metadata.json', 'Vagrantfile', 'box.img', 'vmlinuz', 'initrd.img']
    run_checked(['tar', '-C', build, '-cf', box, *parts], 'tar')
    for name in parts:
        os.remove(os.path.join(build, name))
    return box, release


def ensure_box():
    """Return (box file, info, seconds spent building: 0 when cached)."""
    if not VAGRANT_KEYS:
        raise TestbedError('Vagrant\'s public key is not installed: run sudo bash scripts/setup.sh --with-vagrant')
    packages = setup_packages()
    requirements = requirements_text()
    package, version = kernel_package()
    key = box_key(host_mirror(), f'{package} {version}', packages, requirements, file_hash(__file__))
    box_dir = os.path.join(cache_dir(), key)
    info_file = os.path.join(box_dir, 'info.json')
    if os.path.exists(info_file):
        with open(info_file) as handle:
            return os.path.join(box_dir, BOX_NAME), json.load(handle), 0.0
    started = time.monotonic()
    log(f'no cached box {key}: building (a few minutes, once)')
    build = os.path.join(cache_dir(), f'build-{key}-{os.getpid()}')
    shutil.rmtree(build, ignore_errors=True)
    os.makedirs(build)
    try:
        _box, release = build_box(os.path.join(build, 'rootfs'), packages)
        info = {'key': key, 'suite': SUITE, 'kernel': release, 'setup_packages': packages,
                'built': time.strftime('%Y-%m-%d %H:%M:%S'), 'build_seconds': round(time.monotonic() - started),
                'box_mb': round(os.path.getsize(os.path.join(build, BOX_NAME)) / 2 ** 20)}
        _write(os.path.join(build, 'info.json'), json.dumps(info, indent=2))
        os.replace(build, box_dir)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    for old in glob.glob(os.path.join(cache_dir(), '*', 'info.json')):  # keep one box: the current one
        if os.path.dirname(old) != box_dir:
            shutil.rmtree(os.path.dirname(old), ignore_errors=True)
    return os.path.join(box_dir, BOX_NAME), info, time.monotonic() - started

