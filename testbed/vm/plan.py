"""Pure parts of the VM test stage: the apt mirror to build from, kernel-module closures, the image cache key.

The VM stage (``testbed.vm.stage``) boots a stock Debian kernel under QEMU so that the kernel path (netem, sit, the OVS
kernel datapath) is tested on machines whose own kernel lacks it. Everything here is computed from text and needs
neither root nor network, so it is unit-tested.
"""
import hashlib
import json
import re
from typing import Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

VM_FORMAT = 1  # bump when the image layout or the build recipe changes: it invalidates cached images


class Release(NamedTuple):
    number: str
    python: str  # the release's python3, major.minor


# The Debian releases the VM stage can boot. The default is the release of the development and CI machines. A guest
# whose Python is the one the checkout's .venv was made from shares that .venv; any other gets a virtualenv of its
# own (GUEST_VENV), built into its image from requirements.txt, with the checkout put on its path at boot.
RELEASES = {'bookworm': Release('12', '3.11'), 'trixie': Release('13', '3.13')}
SUITE = 'bookworm'
GUEST_VENV = '/opt/testbed-venv'
OWN_VENV_PACKAGES = ('python3-venv',)
GUEST_PACKAGES = (
    'mininet', 'openvswitch-switch', 'iproute2', 'iputils-ping', 'iperf3', 'libiperf0', 'ethtool', 'tcpdump',
    'kmod', 'procps', 'python3', 'net-tools', 'util-linux', 'tini', 'traceroute', 'dnsmasq-base', 'iptables',
    'radvd', 'ndisc6', 'openssh-server', 'openssh-client', 'sudo',   # the last three: fake cluster servers
)
# Modules the tiny initramfs loads to reach the root disk and the shared folders (dependencies are added).
INITRAMFS_MODULES = ('virtio_pci', 'virtio_blk', 'crc32c_generic', 'ext4', '9pnet_virtio', '9p')


class PlanError(Exception):
    """The VM stage cannot be planned from what this machine provides."""


# What the guest's pytest runs on the kernel path. "smoke" (the default of `make test`) exercises each kernel
# feature once -- netem delay/loss/rate, the OVS kernel datapath with and without the controller, sit with its
# RFC 3964 rules, cleanup -- and is kept under 5 minutes warm under TCG (4 min 40 s on a 2-core machine); "full"
# runs every integration test that has a kernel-path variant and is not host_only (what CI runs: 19 min 4 s there
# on 2026-12-04). Userspace variants and host_only tests run on the host.
GUEST_SELECTION = '-k "not userspace" -m "{marker}not host_only"'
VM_SUITES = {'smoke': 'smoke and ', 'full': ''}
# The guest's time limit, boot and tests (a second boot included): the full suite took 19 min under TCG on one day
# and 36 min on a slower one, on the same kind of machine.
RUN_TIMEOUT_S = 50 * 60


def guest_pytest_args(suite: str) -> str:
    """The pytest arguments the guest runs for a VM suite ('smoke' or 'full'): verbose, so that the log names the
    test that was running should the guest die. The summary (pyproject's -raR) names failures, skips and reruns."""
    if suite not in VM_SUITES:
        raise PlanError(f'unknown VM suite {suite!r} (choose {" or ".join(VM_SUITES)})')
    selection = GUEST_SELECTION.format(marker=VM_SUITES[suite])
    return f'tests/integration -v --durations=8 {selection} -p no:warnings'


def _deb822_stanzas(text):
    stanza = {}
    key = None
    for line in text.splitlines():
        if line.startswith('#'):
            continue
        if not line.strip():
            if stanza:
                yield stanza
            stanza, key = {}, None
        elif line[0].isspace() and key:
            stanza[key] += ' ' + line.strip()
        elif ':' in line:
            key, value = line.split(':', 1)
            key = key.strip().lower()
            stanza[key] = value.strip()
    if stanza:
        yield stanza


def release_suite(release: str) -> str:
    """The suite name of a release the VM stage knows ('trixie' or '13' -> 'trixie'); PlanError otherwise."""
    for suite, known in RELEASES.items():
        if release in (suite, known.number):
            return suite
    known_list = ', '.join(f'{suite} ({known.number})' for suite, known in RELEASES.items())
    raise PlanError(f'unknown Debian release {release!r} for the VM stage (known: {known_list})')


def guest_venv(suite: str, host_venv_python: Optional[str]) -> Optional[str]:
    """Where the guest's virtualenv is: None to share the checkout's .venv, else GUEST_VENV in the image.

    ``host_venv_python`` is the version .venv was made with ('3.11.2'), None if there is no .venv.
    """
    if host_venv_python and '.'.join(host_venv_python.split('.')[:2]) == RELEASES[suite].python:
        return None
    return GUEST_VENV


def apt_mirror(sources: Dict[str, str], suite: str = SUITE) -> str:
    """The archive URI this machine installs ``suite`` from, read from its own apt configuration.

    ``sources`` maps a file name to its text: ``*.sources`` files are deb822, others one-line ``deb URI SUITE``.
    The plain suite (not -security or -updates) with the ``main`` component is preferred. A release the machine
    does not use itself comes from the archive that serves the machine's own release: one Debian archive holds them
    all.
    """
    candidates = []
    for name, text in sorted(sources.items()):
        if name.endswith('.sources'):
            for stanza in _deb822_stanzas(text):
                if 'deb' not in stanza.get('types', '').split():
                    continue
                suites = stanza.get('suites', '').split()
                components = stanza.get('components', '').split()
                for uri in stanza.get('uris', '').split():
                    candidates.append((uri, suites, components))
        else:
            for line in text.splitlines():
                words = re.sub(r'\[[^]]*\]', '', line.split('#', 1)[0]).split()
                if len(words) >= 3 and words[0] == 'deb':
                    candidates.append((words[1], [words[2]], words[3:]))
    for wanted in [suite] + [known for known in RELEASES if known != suite]:
        for uri, suites, components in candidates:
            if wanted in suites and 'main' in components:
                return uri.rstrip('/')
    raise PlanError(f'no apt source for "{suite} main" in this machine\'s apt configuration '
                    f'(/etc/apt/sources.list, /etc/apt/sources.list.d/)')


def parse_modules_dep(text: str) -> Dict[str, Tuple[str, List[str]]]:
    """{module name: (path, [dependency paths])} from a modules.dep file."""
    modules = {}
    for line in text.splitlines():
        if ':' not in line:
            continue
        path, deps = line.split(':', 1)
        modules[module_name(path)] = (path.strip(), deps.split())
    return modules


def module_name(path: str) -> str:
    """``kernel/fs/ext4/ext4.ko`` -> ``ext4`` (dashes and underscores are the same to the kernel)."""
    base = path.strip().rsplit('/', 1)[-1]
    base = re.sub(r'\.ko(\.(xz|zst|gz))?$', '', base)
    return base.replace('-', '_')


def uncompressed_path(path: str) -> Tuple[str, Optional[str]]:
    """``x.ko.xz`` -> (``x.ko``, ``'xz'``); ``x.ko`` -> (``x.ko``, None). Busybox's insmod loads only plain modules."""
    match = re.match(r'^(.*\.ko)\.(xz|zst|gz)$', path)
    return (match.group(1), match.group(2)) if match else (path, None)


def builtin_modules(text: str) -> Set[str]:
    """Module names from a modules.builtin file: parts of the kernel itself, nothing to load."""
    return {module_name(line) for line in text.splitlines() if line.strip()}


def module_closure(modules: Dict[str, Tuple[str, List[str]]], wanted: Iterable[str],
                   builtin: Iterable[str] = ()) -> List[str]:
    """Paths of ``wanted`` modules and their dependencies, each after what it needs (insmod order).

    A wanted module the kernel has built in (``builtin``, names) needs no file.
    """
    by_path = {path: deps for path, deps in modules.values()}
    order, seen = [], set()

    def visit(path, chain):
        if path in seen:
            return
        if path in chain:
            raise PlanError(f'module dependency cycle through {path}')
        for dep in by_path.get(path, []):
            visit(dep, chain | {path})
        seen.add(path)
        order.append(path)

    builtin = {name.replace('-', '_') for name in builtin}
    for name in wanted:
        key = name.replace('-', '_')
        if key in builtin and key not in modules:
            continue
        if key not in modules:
            raise PlanError(f'kernel module {name} is not in this kernel package')
        visit(modules[key][0], frozenset())
    return order


def image_key(mirror: str, kernel_package: str, kernel_version: str, packages: Iterable[str] = GUEST_PACKAGES,
              suite: str = SUITE, requirements: str = '') -> str:
    """A short hash naming a cached image: it changes when anything that goes into the image changes.

    ``requirements`` is the text of the Python requirements baked into an image with its own virtualenv.
    """
    material = {'format': VM_FORMAT, 'mirror': mirror, 'suite': suite, 'packages': sorted(packages),
                'kernel': [kernel_package, kernel_version]}
    if requirements:
        material['requirements'] = requirements
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


def kernel_cmdline(repo: str, results: str, extra: str = '') -> str:
    """The guest kernel command line: serial console, no reboot loop, where to mount the shared folders."""
    for path in (repo, results):
        if not path.startswith('/') or re.search(r'\s', path):
            raise PlanError(f'shared folder path {path!r} must be absolute and without spaces')
    # tsc=reliable: under TCG the kernel distrusts the TSC and falls back to HPET, whose every read is emulated MMIO.
    return (f'console=ttyS0 panic=1 quiet loglevel=4 tsc=reliable tb.repo={repo} tb.results={results} '
            f'{extra}').strip()


# -- the Vagrant box of `make test-vagrant` ---------------------------------------------------------------------------
# What the box has besides a minimal Debian: what a Vagrant box of Debian 12 brings (systemd, ssh, sudo, rsync for
# the synced folder, the stock kernel) and apt-utils to index the packages it carries for scripts/setup.sh.
BOX_PACKAGES = ('systemd-sysv', 'udev', 'dbus', 'openssh-server', 'sudo', 'rsync', 'linux-image-amd64',
                'initramfs-tools', 'ca-certificates', 'iproute2', 'python3', 'apt-utils', 'less', 'procps')
BOX_APT = '/var/local/testbed-apt'       # the packages scripts/setup.sh installs, as a local apt repository
BOX_WHEELS = '/var/local/testbed-wheels'  # the Python packages it installs, for pip without an index
BOX_FREE_MB = 3072                        # room on the box's disk for what provisioning and the demo write
BOX_CMDLINE = 'root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet'


def box_metadata(disk_bytes: int) -> str:
    """metadata.json of a vagrant-libvirt box whose qcow2 disk has ``disk_bytes`` of virtual size."""
    return json.dumps({'provider': 'libvirt', 'format': 'qcow2', 'virtual_size': -(-disk_bytes // 2 ** 30)})


def box_vagrantfile(cmdline: str = BOX_CMDLINE) -> str:
    """The box's own Vagrantfile: libvirt boots the kernel and initramfs the box carries (its disk has no boot
    loader), from the box's folder."""
    return ('Vagrant.configure("2") do |config|\n'
            '  config.vm.provider :libvirt do |lv|\n'
            '    lv.kernel = File.expand_path("vmlinuz", __dir__)\n'
            '    lv.initrd = File.expand_path("initrd.img", __dir__)\n'
            f'    lv.cmd_line = "{cmdline}"\n'
            '  end\n'
            'end\n')


def box_key(mirror: str, kernel: str, packages: Iterable[str], requirements: str, recipe: str) -> str:
    """A short hash naming a cached box: mirror, kernel version, the setup script's packages, the Python
    requirements, the box's own packages and Vagrantfile, and the build recipe's own hash."""
    material = {'mirror': mirror, 'kernel': kernel, 'packages': sorted(packages), 'requirements': requirements,
                'box': sorted(BOX_PACKAGES), 'vagrantfile': box_vagrantfile(), 'recipe': recipe}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]
