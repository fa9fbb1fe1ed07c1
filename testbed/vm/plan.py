"""Pure parts of the VM test stage: the apt mirror to build from, kernel-module closures, the image cache key.

The VM stage (``testbed.vm.stage``) boots a stock Debian kernel under QEMU so that the kernel path (netem, sit, the OVS
kernel datapath) is tested on machines whose own kernel lacks it. Everything here is computed from text and needs
neither root nor network, so it is unit-tested.
"""
import hashlib
import json
import re
from typing import Dict, Iterable, List, Tuple

VM_FORMAT = 1  # bump when the image layout or the build recipe changes: it invalidates cached images
SUITE = 'bookworm'
GUEST_PACKAGES = (
    'mininet', 'openvswitch-switch', 'iproute2', 'iputils-ping', 'iperf3', 'libiperf0', 'ethtool', 'tcpdump',
    'kmod', 'procps', 'python3', 'net-tools', 'util-linux', 'tini', 'traceroute', 'dnsmasq-base', 'iptables',
    'radvd', 'ndisc6', 'openssh-server', 'openssh-client', 'sudo',   # the last three: fake cluster servers
)
# Modules the tiny initramfs loads to reach the root disk and the shared folders (dependencies are added).
INITRAMFS_MODULES = ('virtio_pci', 'virtio_blk', 'crc32c_generic', 'ext4', '9pnet_virtio', '9p')
# Modules the guest loads for the kernel path.
class PlanError(Exception):
    """The VM stage cannot be planned from what this machine provides."""


# What the guest's pytest runs on the kernel path. "smoke" (the default of `make test`) exercises each kernel
# feature once -- netem delay/loss/rate, the OVS kernel datapath with and without the controller, sit with its
# RFC 3964 rules, cleanup -- and is kept under 5 minutes warm under TCG (4 min 40 s on a 2-core machine); "full"
# runs every integration test that has a kernel-path variant (what CI runs, ~23 minutes there). Userspace variants
# and host_only tests run on the host.
GUEST_SELECTION = '-k "not userspace" -m "{marker}not host_only"'
VM_SUITES = {'smoke': 'smoke and ', 'full': ''}


def guest_pytest_args(suite: str) -> str:
    """The pytest arguments the guest runs for a VM suite ('smoke' or 'full')."""
    if suite not in VM_SUITES:
        raise PlanError(f'unknown VM suite {suite!r} (choose {" or ".join(VM_SUITES)})')
    selection = GUEST_SELECTION.format(marker=VM_SUITES[suite])
    return f'tests/integration -q -rs --durations=8 {selection} -p no:warnings'


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


def apt_mirror(sources: Dict[str, str], suite: str = SUITE) -> str:
    """The archive URI this machine installs ``suite`` from, read from its own apt configuration.

    ``sources`` maps a file name to its text: ``*.sources`` files are deb822, others one-line ``deb URI SUITE``.
    The plain suite (not -security or -updates) with the ``main`` component is preferred.
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
    for uri, suites, components in candidates:
        if suite in suites and 'main' in components:
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


def module_closure(modules: Dict[str, Tuple[str, List[str]]], wanted: Iterable[str]) -> List[str]:
    """Paths of ``wanted`` modules and their dependencies, each after what it needs (insmod order)."""
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

    for name in wanted:
        key = name.replace('-', '_')
        if key not in modules:
            raise PlanError(f'kernel module {name} is not in this kernel package')
        visit(modules[key][0], frozenset())
    return order


def image_key(mirror: str, kernel_package: str, kernel_version: str, packages: Iterable[str] = GUEST_PACKAGES,
              suite: str = SUITE) -> str:
    """A short hash naming a cached image: it changes when anything that goes into the image changes."""
    material = json.dumps({'format': VM_FORMAT, 'mirror': mirror, 'suite': suite, 'packages': sorted(packages),
                           'kernel': [kernel_package, kernel_version]}, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def kernel_cmdline(repo: str, results: str, extra: str = '') -> str:
    """The guest kernel command line: serial console, no reboot loop, where to mount the shared folders."""
    for path in (repo, results):
        if not path.startswith('/') or re.search(r'\s', path):
            raise PlanError(f'shared folder path {path!r} must be absolute and without spaces')
    # tsc=reliable: under TCG the kernel distrusts the TSC and falls back to HPET, whose every read is emulated MMIO.
    return (f'console=ttyS0 panic=1 quiet loglevel=4 tsc=reliable tb.repo={repo} tb.results={results} '
            f'{extra}').strip()
