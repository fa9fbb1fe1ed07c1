"""The VM stage's images: a small Debian 12 or 13 built with debootstrap from this machine's apt mirror, with a stock
kernel and a busybox initramfs, cached in ``.cache/vm/<key>/`` (``disk.img``, ``vmlinuz``, ``initramfs.gz``,
``info.json``); the key hashes everything that goes into the image. Builds run in private mount namespaces
(``unshare -m``), so no mount outlives them. The Vagrant box (``testbed.vm.box``) is built with the same helpers.
"""
import glob
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

from testbed import REPO
from testbed.errors import TestbedError
from testbed.vm.plan import (GUEST_PACKAGES, INITRAMFS_MODULES, OWN_VENV_PACKAGES, PlanError, SUITE, apt_mirror,
                            builtin_modules, guest_venv, image_key, module_closure, parse_modules_dep,
                            uncompressed_path)

BUSYBOX = '/bin/busybox'


def log(message):
    print(f'testbed vm: {message}', file=sys.stderr, flush=True)


def cache_dir():
    return os.environ.get('TESTBED_VM_CACHE', os.path.join(REPO, '.cache', 'vm'))


def run_checked(cmd, what, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise TestbedError(f'{what} failed ({" ".join(cmd[:3])} ...): {" | ".join(tail)}')
    return proc.stdout


# -- what goes into the image ----------------------------------------------------------------------------------------

def host_mirror(suite=SUITE):
    sources = {}
    for path in ['/etc/apt/sources.list'] + sorted(glob.glob('/etc/apt/sources.list.d/*')):
        if os.path.isfile(path):
            with open(path) as handle:
                sources[os.path.basename(path)] = handle.read()
    try:
        return apt_mirror(sources, suite)
    except PlanError as exc:
        raise TestbedError(str(exc)) from None


def host_release():
    """This machine's Debian code name ('bookworm'), or '' when /etc/os-release does not say."""
    try:
        with open('/etc/os-release') as handle:
            fields = dict(line.rstrip('\n').split('=', 1) for line in handle if '=' in line)
    except OSError:
        return ''
    return fields.get('VERSION_CODENAME', '').strip('"')


def host_venv_python():
    """The Python version the checkout's .venv was made with ('3.11.2'), or None without a .venv."""
    try:
        with open(os.path.join(REPO, '.venv', 'pyvenv.cfg')) as handle:
            for line in handle:
                key, _, value = line.partition('=')
                if key.strip() in ('version', 'version_info'):
                    return value.strip()
    except OSError:
        pass
    return None


def _depends_on_kernel(depends_output):
    names = [line.split(':', 1)[1].strip() for line in depends_output.splitlines()
             if line.strip().startswith('Depends:') and 'linux-image-' in line]
    if not names:
        raise TestbedError('apt knows no linux-image-amd64 dependency (run apt-get update)')
    return names[0]


def kernel_package():
    """(package, version) of the kernel ``linux-image-amd64`` depends on, from this machine's apt lists."""
    name = _depends_on_kernel(run_checked(['apt-cache', 'depends', 'linux-image-amd64'], 'apt-cache depends'))
    policy = run_checked(['apt-cache', 'policy', name], 'apt-cache policy')
    version = next((line.split(':', 1)[1].strip() for line in policy.splitlines()
                    if line.strip().startswith('Candidate:')), 'unknown')
    return name, version


def file_hash(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()[:12]


def requirements_text():
    with open(os.path.join(REPO, 'requirements.txt')) as handle:
        return handle.read()


class ImageRecipe:
    """What one VM image is made of: its release, mirror, kernel, packages and virtualenv, and its cache key.

    The default release's kernel is the one this machine's apt lists name, so a new kernel there means a new
    image. Another release's kernel is whatever that release's ``linux-image-amd64`` depends on when the image is
    built: that image is rebuilt when its recipe changes or with ``testbed vm build --release R --rebuild``.
    """

    def __init__(self, suite=SUITE):
        self.suite = suite
        self.mirror = host_mirror(suite)
        self.venv = guest_venv(suite, host_venv_python())
        self.packages = GUEST_PACKAGES + (OWN_VENV_PACKAGES if self.venv else ())
        self.requirements = requirements_text() if self.venv else ''
        if suite == host_release():
            self.kernel = kernel_package()
        else:
            self.kernel = ('linux-image-amd64', f'{suite} at build time')
        init_hash = file_hash(os.path.join(REPO, 'scripts', 'vm-initramfs-init.sh'))
        self.key = image_key(self.mirror, self.kernel[0], self.kernel[1] + '+' + init_hash, self.packages, suite,
                             self.requirements)


# -- building ------------------------------------------------------------------------------------------------------

def chroot_command(rootfs, command):
    """A shell command run in the image's root with a clean environment (this machine's pip settings name paths
    that do not exist there); a package index this machine's pip is told to use comes along."""
    keep = ' '.join(f'{name}={shlex.quote(os.environ[name])}' for name in ('PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL')
                    if name in os.environ)
    return (f'chroot {rootfs} env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 '
            f'DEBIAN_FRONTEND=noninteractive {keep} sh -ec {shlex.quote(command)}')


def _unpack_kernel(build, deb):
    kernel_dir = os.path.join(build, 'kernel')
    run_checked(['dpkg-deb', '-x', deb, kernel_dir], 'unpacking the kernel package')
    merged = os.path.join(kernel_dir, 'usr', 'lib', 'modules')
    if os.path.isdir(merged):  # Debian 13 packages its modules under /usr (merged /usr); depmod -b looks in /lib
        os.makedirs(os.path.join(kernel_dir, 'lib'), exist_ok=True)
        os.rename(merged, os.path.join(kernel_dir, 'lib', 'modules'))
    release = os.listdir(os.path.join(kernel_dir, 'lib', 'modules'))[0]
    run_checked(['depmod', '-b', kernel_dir, release], 'depmod')
    return kernel_dir, release


def _fetch_kernel(build, package):
    """Download the kernel package with this machine's apt and unpack it; return (kernel dir, release)."""
    download = os.path.join(build, 'deb')
    os.makedirs(download)
    os.chmod(download, 0o777)  # apt-get download drops privileges to _apt
    run_checked(['apt-get', 'download', '-q', package], 'downloading the kernel package', cwd=download)
    return _unpack_kernel(build, glob.glob(os.path.join(download, '*.deb'))[0])


def _fetch_release_kernel(build, rootfs):
    """Download the image's own release's kernel with the image's apt and unpack it; return (dir, release)."""
    download = os.path.join(rootfs, 'tmp', 'kernel-deb')
    os.makedirs(download)
    os.chmod(download, 0o777)
    depends = run_checked(['chroot', rootfs, 'apt-cache', 'depends', 'linux-image-amd64'],
                          'apt-cache depends in the image')
    package = _depends_on_kernel(depends)
    in_chroot(rootfs, f'cd /tmp/kernel-deb && apt-get download -q {package}',
              'downloading the kernel package in the image')
    unpacked = _unpack_kernel(build, glob.glob(os.path.join(download, '*.deb'))[0])
    shutil.rmtree(download)
    return unpacked


def in_private_mounts(script, what):
    """Run a shell script in its own mount namespace: every mount it makes vanishes with it."""
    return run_checked(['unshare', '--mount', '--propagation', 'private', 'sh', '-ec', script], what)


def in_chroot(rootfs, script, what):
    """Run a shell script in the image's root (``chroot_command``), with /proc mounted for it alone."""
    return in_private_mounts(f'mount -t proc proc {rootfs}/proc; ' + chroot_command(rootfs, script), what)


def bootstrap(rootfs, suite, mirror):
    """A minimal Debian ``suite`` in ``rootfs`` from ``mirror``, ready for apt: no service starts while packages
    install (policy-rc.d), and names resolve as on this machine."""
    log(f'debootstrap {suite} (minbase) from the machine\'s apt mirror')
    in_private_mounts(f'debootstrap --variant=minbase {suite} {rootfs} {mirror}', 'debootstrap')
    policy = os.path.join(rootfs, 'usr/sbin/policy-rc.d')
    with open(policy, 'w') as handle:
        handle.write('#!/bin/sh\nexit 101\n')
    os.chmod(policy, 0o755)
    shutil.copy('/etc/resolv.conf', os.path.join(rootfs, 'etc/resolv.conf'))


def _build_rootfs(build, recipe):
    rootfs = os.path.join(build, 'rootfs')
    bootstrap(rootfs, recipe.suite, recipe.mirror)
    log(f'installing {len(recipe.packages)} packages into the image')
    in_chroot(rootfs, 'apt-get update -qq; apt-get install -y -qq --no-install-recommends '
              + ' '.join(recipe.packages) + '; apt-get clean', 'installing the guest packages')
    if recipe.venv:
        log(f'virtualenv {recipe.venv} in the image, from requirements.txt')
        shutil.copy(os.path.join(REPO, 'requirements.txt'), os.path.join(rootfs, 'tmp', 'requirements.txt'))
        # pip in the image trusts what this machine's pip trusts (a proxy's certificate authority, say).
        shutil.copy(os.environ.get('PIP_CERT', '/etc/ssl/certs/ca-certificates.crt'),
                    os.path.join(rootfs, 'tmp', 'ca.pem'))
        pip = (f'{recipe.venv}/bin/python -m pip install -q --disable-pip-version-check --cert /tmp/ca.pem')
        # The same recipe as scripts/setup.sh: an older setuptools for Ryu's setup hooks, pbr before Ryu.
        in_chroot(rootfs, f'python3 -m venv --system-site-packages {recipe.venv}; '
                  f'{pip} "pip>=23" "setuptools<67" wheel pbr; '
                  f'{pip} --no-build-isolation --ignore-installed -r /tmp/requirements.txt; '
                  f'rm -rf /tmp/requirements.txt /tmp/ca.pem /root/.cache', 'the guest virtualenv')
    return rootfs


def _make_disk(rootfs, path):
    used_mb = int(run_checked(['du', '-sm', rootfs], 'du').split()[0])
    size_mb = used_mb + max(512, used_mb // 2)
    log(f'ext4 image of {size_mb} MB')
    run_checked(['mkfs.ext4', '-q', '-F', '-L', 'tbroot', '-d', rootfs, path, f'{size_mb}M'], 'mkfs.ext4')


def _make_initramfs(kernel_dir, release, path):
    root = os.path.join(os.path.dirname(path), 'initramfs')
    for folder in ('bin', 'dev', 'proc', 'sys', 'newroot', 'lib/modules'):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    shutil.copy(BUSYBOX, os.path.join(root, 'bin', 'busybox'))
    shutil.copy(os.path.join(REPO, 'scripts', 'vm-initramfs-init.sh'), os.path.join(root, 'init'))
    modules_root = os.path.join(kernel_dir, 'lib', 'modules', release)
    with open(os.path.join(modules_root, 'modules.dep')) as handle:
        modules = parse_modules_dep(handle.read())
    builtin = set()
    if os.path.exists(os.path.join(modules_root, 'modules.builtin')):
        with open(os.path.join(modules_root, 'modules.builtin')) as handle:
            builtin = builtin_modules(handle.read())
    order = module_closure(modules, INITRAMFS_MODULES, builtin)
    plain_order = []
    for module in order:
        plain, compression = uncompressed_path(module)
        target = os.path.join(root, 'lib', 'modules', plain)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if compression:  # Debian 13 ships modules compressed: busybox's insmod wants them plain
            with open(target, 'wb') as out:
                subprocess.run([compression, '-dc', os.path.join(modules_root, module)], stdout=out, check=True)
        else:
            shutil.copy(os.path.join(modules_root, module), target)
        plain_order.append(plain)
    with open(os.path.join(root, 'modules.order'), 'w') as handle:
        handle.write('\n'.join(plain_order) + '\n')
    run_checked(['sh', '-c', f'cd {root} && find . | cpio -o -H newc --quiet | gzip -1 > {path}'], 'cpio')
    shutil.rmtree(root)


def _cached_images():
    """{image dir: info} of the images in the cache."""
    images = {}
    for path in glob.glob(os.path.join(cache_dir(), '*', 'info.json')):
        with open(path) as handle:
            images[os.path.dirname(path)] = json.load(handle)
    return images


def ensure_image(suite=SUITE, rebuild=False):
    """Return (image dir, info, seconds spent building: 0 when cached) for a Debian release."""
    recipe = ImageRecipe(suite)
    image_dir = os.path.join(cache_dir(), recipe.key)
    if rebuild:
        shutil.rmtree(image_dir, ignore_errors=True)
    if os.path.exists(os.path.join(image_dir, 'info.json')):
        with open(os.path.join(image_dir, 'info.json')) as handle:
            return image_dir, json.load(handle), 0.0
    started = time.monotonic()
    log(f'no cached {suite} image {recipe.key}: building (a few minutes, once)')
    os.makedirs(cache_dir(), exist_ok=True)
    build = os.path.join(cache_dir(), f'build-{recipe.key}-{os.getpid()}')
    shutil.rmtree(build, ignore_errors=True)
    os.makedirs(build)
    try:
        if recipe.suite == host_release():
            kernel_dir, release = _fetch_kernel(build, recipe.kernel[0])
            rootfs = _build_rootfs(build, recipe)
        else:
            rootfs = _build_rootfs(build, recipe)
            kernel_dir, release = _fetch_release_kernel(build, rootfs)
        shutil.copytree(os.path.join(kernel_dir, 'lib', 'modules', release),
                        os.path.join(rootfs, 'lib', 'modules', release), symlinks=True)
        with open(os.path.join(rootfs, 'etc/hostname'), 'w') as handle:
            handle.write('testbed-vm\n')
        _make_disk(rootfs, os.path.join(build, 'disk.img'))
        shutil.rmtree(rootfs)
        _make_initramfs(kernel_dir, release, os.path.join(build, 'initramfs.gz'))
        shutil.copy(os.path.join(kernel_dir, 'boot', f'vmlinuz-{release}'), os.path.join(build, 'vmlinuz'))
        shutil.rmtree(kernel_dir)
        shutil.rmtree(os.path.join(build, 'deb'), ignore_errors=True)
        info = {'key': recipe.key, 'suite': suite, 'kernel_package': recipe.kernel[0],
                'kernel_version': recipe.kernel[1], 'release': release, 'mirror': recipe.mirror,
                'packages': list(recipe.packages), 'venv': recipe.venv,
                'built': time.strftime('%Y-%m-%d %H:%M:%S'), 'build_seconds': round(time.monotonic() - started)}
        with open(os.path.join(build, 'info.json'), 'w') as handle:
            json.dump(info, handle, indent=2)
        os.replace(build, image_dir)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    for old, old_info in _cached_images().items():  # keep one image of each release: the current one
        if old != image_dir and old_info.get('suite', SUITE) == suite:
            shutil.rmtree(old, ignore_errors=True)
    return image_dir, info, time.monotonic() - started
