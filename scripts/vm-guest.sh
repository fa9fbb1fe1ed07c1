#!/bin/sh
# Runs inside the VM stage's guest (a stock Debian kernel under QEMU), under tini as PID 1.
# Arguments: REPO (the host's checkout, shared read-only at the same path) and RESULTS (a writable shared folder).
# Mounts the pseudo file systems, loads the kernel-path modules, starts Open vSwitch, runs the project's own
# integration tests on the kernel path, writes their exit code to RESULTS/rc and powers the VM off.
REPO=$1
RESULTS=$2
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
say() { echo "testbed-vm: $*"; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
# Fresh /run and /tmp, unless the shared checkout was mounted below one of them (a clone in /tmp, say).
for dir in /run /tmp; do
    case "$REPO/" in "$dir"/*) ;; *) mount -t tmpfs tmpfs "$dir" ;; esac
done
mount -t tmpfs tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
hostname testbed-vm
ip link set lo up
say "kernel $(uname -r), $(nproc) CPU(s)"

for module in ${TB_GUEST_MODULES:-sch_netem sch_htb sit openvswitch veth tun crc32c_generic ip6table_filter iptable_filter xt_u32 xt_comment}; do
    modprobe "$module" || say "could not load $module"
done
mkdir -p /var/run/openvswitch /var/log/openvswitch
/usr/share/openvswitch/scripts/ovs-ctl start --system-id=random >"$RESULTS/ovs-start.log" 2>&1 \
    || say "Open vSwitch did not start (see ovs-start.log)"

cd "$REPO" || exit 1
# The guest shares the checkout's .venv when its Python is the one .venv was made with; otherwise (another Debian
# release) its image has a virtualenv of its own, named by tb.venv=, and the checkout goes on that one's path.
python=.venv/bin/python
for word in $(cat /proc/cmdline); do
    case "$word" in
        tb.venv=*)
            venv=${word#tb.venv=}
            python=$venv/bin/python
            "$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' >/tmp/purelib
            echo "$REPO" >"$(cat /tmp/purelib)/testbed-checkout.pth" ;;
    esac
done
export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TESTBED_RUN_ROOT=/run/testbed HOME=/tmp TESTBED_RESULTS="$RESULTS"
say "python: $("$python" --version 2>&1), $("$python" -c 'import mininet.net, ryu; print("Mininet", mininet.net.VERSION)' 2>&1 | tail -n 1)"
"$python" -m testbed doctor >"$RESULTS/doctor.txt" 2>&1
say "paths: $(grep -E '^  (delay|tunnel|datapath) ' "$RESULTS/doctor.txt" | awk '{printf "%s=%s ", $1, $2}')"
say "running: pytest $(cat "$RESULTS/pytest-args")"
# shellcheck disable=SC2046  # the arguments file holds shell words written by the host
eval "\"$python\" -m pytest -p no:cacheprovider --junitxml=\"$RESULTS/junit.xml\" $(cat "$RESULTS/pytest-args")" \
    >"$RESULTS/pytest.log" 2>&1
rc=$?
echo "$rc" >"$RESULTS/rc"
say "pytest: $(tail -n 1 "$RESULTS/pytest.log")"
sync
echo o >/proc/sysrq-trigger
sleep 30
