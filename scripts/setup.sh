#!/usr/bin/env bash
# Make this machine ready for the testbed, idempotently:
#   1. Debian/Ubuntu packages (Mininet, Open vSwitch, iperf3, ...), installed only when missing;
#   2. a virtualenv .venv made from the system Python with --system-site-packages (apt's Mininet is importable),
#      with the pinned Python dependencies, rebuilt only when requirements.txt or pyproject.toml change;
#   3. a running Open vSwitch (kernel datapath when the module loads, userspace otherwise).
# A second run on a ready machine takes seconds. Uses the machine's configured apt and pip sources.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv="$repo/.venv"
say() { printf '[setup] %s\n' "$*"; }

with_vm=0
with_vagrant=0
print_packages=0
for arg in "$@"; do
    case "$arg" in
        --with-vm) with_vm=1 ;;
        --with-vagrant) with_vagrant=1 ;;
        --print-packages) print_packages=1 ;;  # the Debian packages the testbed needs, one a line (make test-vagrant)
        *) echo "setup: unknown option $arg (known: --with-vm, --with-vagrant, --print-packages)" >&2; exit 2 ;;
    esac
done

# -- 1. system packages -------------------------------------------------------------------------------------------
# make: `sudo make demo` in a fresh Vagrant box, whose image has no make (the provisioning runs this script directly).
apt_packages=(
    mininet openvswitch-switch iperf3 ethtool tcpdump iproute2 iputils-ping procps traceroute
    python3-venv python3-dev gcc libiperf0 kmod dnsmasq-base iptables tayga unbound radvd ndisc6
    openssh-server openssh-client sudo make
)
if [ "$print_packages" = 1 ]; then
    printf '%s\n' "${apt_packages[@]}"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "setup: must run as root (use: sudo make ...)" >&2
    exit 2
fi

# make test also needs: the VM stage boots a stock Debian kernel under QEMU; vagrant validates the Vagrantfile; the
# web view's test drives a headless Chromium.
vm_packages=(qemu-system-x86 debootstrap busybox-static cpio e2fsprogs kmod util-linux vagrant chromium chromium-driver)
# make test-vagrant: vagrant-libvirt with a libvirtd of its own (testbed/vm/vagrant.py), a box built with debootstrap.
vagrant_packages=(vagrant vagrant-libvirt libvirt-daemon-system libvirt-daemon-driver-qemu qemu-system-x86 qemu-utils
    dnsmasq-base debootstrap rsync util-linux)
[ "$with_vm" = 1 ] && apt_packages+=("${vm_packages[@]}")
[ "$with_vagrant" = 1 ] && apt_packages+=("${vagrant_packages[@]}")
missing=()
for pkg in "${apt_packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Do not let package scripts start services in containers/VMs without an init system; we start OVS ourselves.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [[ " ${missing[*]} " == *" unbound "* ]] && [ -d /run/systemd/system ]; then
        # The testbed starts its own unbound (DNS64) inside namespaces; the package's machine-wide resolver
        # service, which it just enabled, stays off.
        systemctl disable --now unbound unbound-resolvconf >/dev/null 2>&1 || true
    fi
    if [[ " ${missing[*]} " == *" openssh-server "* ]] && [ -d /run/systemd/system ]; then
        # The fake cluster servers run their own sshd inside their namespaces; the machine-wide ssh server the
        # package just started stays off unless it was there before (a cluster's real servers need theirs).
        systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
    fi
fi

# -- 2. virtualenv with pinned Python dependencies -------------------------------------------------------------------
pip_install() {
    # The machine's pip configuration may name local wheel folders that do not exist; hide those warnings only.
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" 2> >(grep -v 'is ignored: it is neither' >&2)
}
stamp="$venv/.testbed-deps"
want=$(cat "$repo/requirements.txt" "$repo/pyproject.toml" | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "preparing $venv (system Python, --system-site-packages)"
    [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$venv"
    pip_install "pip>=23" "setuptools<67" wheel pbr
    # Ryu 4.34's setup hooks need an older setuptools and pbr (pip >= 25.3 no longer brings it): build it without
    # isolation against the ones above.
    # --ignore-installed: every requirement and its dependencies go into .venv, even where this machine's Python
    # happens to have them (python3-six, ...): the VM stage shares .venv with a guest that has only Mininet.
    pip_install --no-build-isolation --ignore-installed -r "$repo/requirements.txt"
    pip_install --no-build-isolation --no-deps -e "$repo"
    echo "$want" > "$stamp"
fi

# -- 3. Open vSwitch running --------------------------------------------------------------------------------------
if ! ovs-vsctl --timeout=3 show >/dev/null 2>&1; then
    say "starting Open vSwitch"
    if [ -d /run/systemd/system ]; then
        systemctl start openvswitch-switch
    else
        /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random >/dev/null
    fi
    ovs-vsctl --timeout=10 show >/dev/null
fi
say "ready ($("$venv/bin/python" -m testbed.cli --version 2>/dev/null || echo testbed))"
