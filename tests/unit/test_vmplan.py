"""The VM stage's pure planning: apt mirror, module closure, cache key, kernel command line."""
import pytest

from testbed.vm.plan import (PlanError, apt_mirror, guest_pytest_args, image_key, kernel_cmdline, module_closure,
                            parse_modules_dep)

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
