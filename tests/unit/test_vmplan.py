"""The VM stage's pure planning: apt mirror, module closure, cache key, kernel command line."""
import pytest

from testbed.vm.plan import (GUEST_VENV, PlanError, apt_mirror, builtin_modules, guest_pytest_args, guest_venv,
                            image_key, kernel_cmdline, module_closure, parse_modules_dep, release_suite,
                            uncompressed_path)

DEB822 = """Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_mirror_from_deb822_sources():
    assert apt_mirror({'debian.sources': DEB822}) == 'http://mirror.example/debian'


def test_mirror_from_one_line_sources():
    text = ('deb http://sec.example/debian-security bookworm-security main\n'
            'deb [arch=amd64 signed-by=/x.gpg] http://mirror.example/debian/ bookworm main contrib\n')
    assert apt_mirror({'sources.list': text}) == 'http://mirror.example/debian'


def test_another_release_comes_from_the_archive_of_this_machines_release():
    assert apt_mirror({'debian.sources': DEB822}, 'trixie') == 'http://mirror.example/debian'


def test_releases_by_name_or_number():
    assert release_suite('trixie') == release_suite('13') == 'trixie'
    assert release_suite('12') == 'bookworm'
    with pytest.raises(PlanError, match=r"unknown Debian release 'sid'.*bookworm \(12\), trixie \(13\)"):
        release_suite('sid')


def test_a_guest_shares_venv_only_with_the_same_python():
    assert guest_venv('bookworm', '3.11.2') is None
    assert guest_venv('trixie', '3.11.2') == GUEST_VENV
    assert guest_venv('bookworm', '3.13.5') == GUEST_VENV
    assert guest_venv('bookworm', None) == GUEST_VENV


def test_compressed_modules_are_named_and_unpacked_plain():
    assert uncompressed_path('kernel/fs/ext4/ext4.ko.xz') == ('kernel/fs/ext4/ext4.ko', 'xz')
    assert uncompressed_path('kernel/fs/ext4/ext4.ko') == ('kernel/fs/ext4/ext4.ko', None)
    modules = parse_modules_dep('kernel/net/9p/9pnet_virtio.ko.xz: kernel/net/9p/9pnet.ko.xz\n'
                                'kernel/net/9p/9pnet.ko.xz:\n')
    assert module_closure(modules, ['9pnet_virtio']) == ['kernel/net/9p/9pnet.ko.xz',
                                                          'kernel/net/9p/9pnet_virtio.ko.xz']


def test_builtin_modules_need_no_file():
    builtin = builtin_modules('kernel/drivers/virtio/virtio_pci.ko\nkernel/drivers/base/crc32c-generic.ko\n')
    assert module_closure(parse_modules_dep(MODULES_DEP), ['virtio_pci', 'crc32c_generic', 'virtio_blk'],
                          builtin) == [
        'kernel/drivers/virtio/virtio.ko', 'kernel/drivers/virtio/virtio_ring.ko',
        'kernel/drivers/block/virtio_blk.ko']
    with pytest.raises(PlanError, match='sch_netem is not in this kernel package'):
        module_closure(parse_modules_dep(MODULES_DEP), ['sch_netem'], builtin)


def test_no_mirror_is_a_clear_error():
    with pytest.raises(PlanError, match='no apt source for "bookworm main"'):
        apt_mirror({'sources.list': 'deb http://x/ubuntu jammy main\n'})


MODULES_DEP = """kernel/fs/ext4/ext4.ko: kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko kernel/lib/crc16.ko
kernel/fs/mbcache.ko:
kernel/fs/jbd2/jbd2.ko:
kernel/lib/crc16.ko:
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio.ko:
kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/net/9p/9pnet.ko:
"""


def test_module_closure_puts_dependencies_first():
    modules = parse_modules_dep(MODULES_DEP)
    order = module_closure(modules, ['virtio_blk', 'ext4', '9pnet-virtio'])
    assert order.index('kernel/drivers/virtio/virtio.ko') < order.index('kernel/drivers/block/virtio_blk.ko')
    assert order.index('kernel/fs/jbd2/jbd2.ko') < order.index('kernel/fs/ext4/ext4.ko')
    assert order.count('kernel/drivers/virtio/virtio.ko') == 1
    assert order[-1] == 'kernel/net/9p/9pnet_virtio.ko'


def test_missing_module_is_named():
    with pytest.raises(PlanError, match='sch_netem is not in this kernel package'):
        module_closure(parse_modules_dep(MODULES_DEP), ['sch_netem'])


def test_image_key_changes_with_its_inputs():
    key = image_key('http://m/debian', 'linux-image-6.1.0-56-amd64', '6.1.192-2')
    assert key == image_key('http://m/debian', 'linux-image-6.1.0-56-amd64', '6.1.192-2')
    assert key != image_key('http://m/debian', 'linux-image-6.1.0-57-amd64', '6.1.193-1')
    assert key != image_key('http://m/debian', 'linux-image-6.1.0-56-amd64', '6.1.192-2', packages=('x',))
    assert key != image_key('http://m/debian', 'linux-image-6.1.0-56-amd64', '6.1.192-2', suite='trixie')
    own_venv = image_key('http://m/debian', 'linux-image-amd64', 'trixie', suite='trixie', requirements='ryu==4.34')
    assert own_venv != image_key('http://m/debian', 'linux-image-amd64', 'trixie', suite='trixie',
                                 requirements='ryu==4.34\nos-ken==3.1.1')


def test_kernel_cmdline():
    line = kernel_cmdline('/work/main', '/work/main/.cache/vm/runs/1')
    assert 'console=ttyS0' in line and 'tb.repo=/work/main' in line
    with pytest.raises(PlanError, match='without spaces'):
        kernel_cmdline('/my repo', '/r')


def test_vm_suites_select_kernel_variants_and_smoke_narrows_them():
    full, smoke = guest_pytest_args('full'), guest_pytest_args('smoke')
    for args in (full, smoke):
        assert '-k "not userspace"' in args and 'not host_only' in args
    assert '"smoke and not host_only"' in smoke and 'smoke' not in full
    with pytest.raises(PlanError, match='unknown VM suite'):
        guest_pytest_args('everything')
