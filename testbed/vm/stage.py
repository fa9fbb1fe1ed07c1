"""The VM stage: the project's integration tests on a stock Debian kernel under QEMU (the kernel path).

Machines like the development and CI ones lack sch_netem, sit and the openvswitch module, so their own kernel can
only test the userspace fallbacks. This stage takes an image of Debian 12 or 13 (``testbed.vm.image``: built once
with debootstrap from the machine's own apt mirror, then cached), boots it with QEMU (KVM when a short timed boot
shows it is usable, TCG otherwise), shares this checkout read-only at the same path (so the guest runs the very
same tests, and the same virtualenv where its Python allows), runs ``pytest tests/integration`` there on the
kernel path and brings back the exit code, the log and a JUnit file through a second shared folder. The disk is
booted with ``snapshot=on`` (never modified); QEMU is recorded by PID in a testbed run, so ``testbed clean`` ends
it if this process dies.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

from testbed import REPO
from testbed.errors import TestbedError
from testbed.system.runstate import Run
from testbed.vm.image import BUSYBOX, cache_dir, ensure_image, log
from testbed.vm.plan import RUN_TIMEOUT_S, PlanError, SUITE, guest_pytest_args, kernel_cmdline, release_suite

QEMU = 'qemu-system-x86_64'
TCG_CPU = 'max'
VM_MEMORY_MB = 3072
PROBE_TIMEOUT_S = 60
# A guest that stops without writing its result (it died: a panic under emulation, say) is booted once more.
GUEST_BOOTS = 2


# -- booting -------------------------------------------------------------------------------------------------------

def qemu_command(image_dir, accel, cmdline, console, shares=(), memory_mb=VM_MEMORY_MB):
    tcg_cpu = os.environ.get('TESTBED_VM_CPU', TCG_CPU)
    accel_opts = ['-accel', 'kvm', '-cpu', 'host'] if accel == 'kvm' else ['-accel', 'tcg,thread=multi',
                                                                          '-cpu', tcg_cpu]
    smp = os.environ.get('TESTBED_VM_SMP', str(min(2, os.cpu_count() or 1)))
    cmd = [QEMU, *accel_opts, '-m', str(memory_mb), '-smp', smp,
           '-display', 'none', '-monitor', 'none', '-serial', f'file:{console}', '-no-reboot', '-nic', 'none',
           '-kernel', os.path.join(image_dir, 'vmlinuz'), '-initrd', os.path.join(image_dir, 'initramfs.gz'),
           '-append', cmdline,
           '-drive', f'file={os.path.join(image_dir, "disk.img")},if=virtio,format=raw,snapshot=on']
    for tag, path, readonly in shares:
        cmd += ['-virtfs', f'local,path={path},mount_tag={tag},security_model=none'
                           + (',readonly=on' if readonly else '')]
    return cmd


def _boot(cmd, run, timeout, what, watch=None, errors=os.devnull):
    """Run QEMU until it exits or ``timeout``; record its PID; return (exit code or None, seconds).
    QEMU's own messages go to the file ``errors``."""
    started = time.monotonic()
    with open(errors, 'w') as stderr:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr)
    run.record_process(proc.pid, what)
    try:
        while proc.poll() is None and time.monotonic() - started < timeout:
            if watch:
                watch()
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    seconds = time.monotonic() - started
    return (None if seconds >= timeout else proc.returncode), seconds


def _boot_guest(image_dir, accel, venv, pytest_args, run, timeout, boot):
    """Boot the image once and run ``pytest_args`` in it, relaying the guest's progress lines; return (the run's
    results folder, QEMU's exit code or None on timeout, seconds)."""
    results = os.path.join(cache_dir(), 'runs', time.strftime('%Y%m%d-%H%M%S') + (f'-{boot}' if boot > 1 else ''))
    os.makedirs(results)
    with open(os.path.join(results, 'pytest-args'), 'w') as handle:
        handle.write(pytest_args)
    console = os.path.join(results, 'console.log')
    cmd = qemu_command(image_dir, accel,
                       kernel_cmdline(REPO, results, (f'tb.venv={venv} ' if venv else '')
                                      + os.environ.get('TESTBED_VM_APPEND', '')), console,
                       shares=(('repo', REPO, True), ('results', results, False)))
    shown = [0]

    def relay_progress():
        if os.path.exists(console):
            with open(console, errors='replace') as handle:
                lines = [line.rstrip() for line in handle if line.startswith('testbed-vm: ')]
            for line in lines[shown[0]:]:
                log('guest: ' + line[len('testbed-vm: '):])
            shown[0] = len(lines)

    code, seconds = _boot(cmd, run, timeout, 'qemu VM stage', watch=relay_progress,
                          errors=os.path.join(results, 'qemu.log'))
    relay_progress()
    return results, code, seconds


# Console lines that say why a guest died: a kernel panic, an oops, the OOM killer, init (tini) giving up.
DEATH_SIGNS = re.compile(r'Kernel panic|BUG:|Oops|general protection|Out of memory|Killed process|tini|segfault')


def _lines(path):
    if not os.path.exists(path):
        return []
    with open(path, errors='replace') as handle:
        return [line.rstrip() for line in handle]


def died_report(results, code, seconds):
    """What a guest that stopped without writing its result left behind: the console lines that name a cause (a
    panic, an oops, the OOM killer), the console's last lines, QEMU's own messages and the partial pytest log."""
    console = _lines(os.path.join(results, 'console.log'))
    return '\n'.join([f'--- QEMU exited with status {code} after {seconds:.0f} s; its messages ---',
                      *(_lines(os.path.join(results, 'qemu.log'))[-10:] or ['(none)']),
                      '--- guest console: lines that name a cause ---',
                      *([line for line in console if DEATH_SIGNS.search(line)][:10] or ['(none)']),
                      '--- guest console: last lines ---', *console[-15:],
                      '--- guest pytest log: last lines ---',
                      *(_lines(os.path.join(results, 'pytest.log'))[-15:] or ['(none)'])])


def choose_accel(image_dir, run):
    """KVM if a probe boot with it is faster than with TCG, else TCG; the choice is cached per host kernel."""
    choice_file = os.path.join(cache_dir(), f'accel-{os.uname().release}.json')
    if os.path.exists(choice_file):
        with open(choice_file) as handle:
            return json.load(handle)
    timings = {}
    candidates = ['tcg'] + (['kvm'] if os.access('/dev/kvm', os.R_OK | os.W_OK) else [])
    timeout = PROBE_TIMEOUT_S
    for accel in candidates:
        console = os.path.join(cache_dir(), f'probe-{accel}.log')
        cmd = qemu_command(image_dir, accel, 'console=ttyS0 panic=1 quiet tb.probe=1', console, memory_mb=512)
        code, seconds = _boot(cmd, run, timeout, f'qemu probe boot ({accel})')
        reached = os.path.exists(console) and 'probe boot reached userspace' in open(console).read()
        timings[accel] = round(seconds, 1) if code is not None and reached else None
        log(f'probe boot with {accel}: ' + (f'{seconds:.1f} s' if timings[accel] else
                                              f'no result within {timeout:.0f} s'))
        if accel == 'tcg' and timings['tcg']:
            timeout = max(20.0, 3 * timings['tcg'])  # an accelerator slower than that is of no use
    usable = {accel: t for accel, t in timings.items() if t is not None}
    if not usable:
        raise TestbedError(f'QEMU could not boot the VM image with {" or ".join(candidates)} '
                           f'(see {cache_dir()}/probe-*.log)')
    best = min(usable, key=usable.get)
    choice = {'accel': best, 'probe_seconds': timings,
              'why': f'{best} booted fastest ('
                     + ', '.join(f'{a} {t} s' if t else f'{a} unusable' for a, t in timings.items()) + ')'}
    with open(choice_file, 'w') as handle:
        json.dump(choice, handle)
    return choice


def run_stage(pytest_args=None, timeout=RUN_TIMEOUT_S, suite='smoke', release=SUITE):
    """Build or reuse the image, boot it, run the tests inside; return the guest's pytest exit code.

    ``suite`` picks the guest's tests (testbed.vm.plan.VM_SUITES) unless ``pytest_args`` gives them explicitly;
    ``release`` the guest's Debian release (testbed.vm.plan.RELEASES).
    """
    try:
        pytest_args = pytest_args or guest_pytest_args(suite)
        release = release_suite(release)
    except PlanError as exc:
        raise TestbedError(str(exc)) from None
    for tool in (QEMU, 'debootstrap', 'mkfs.ext4', 'cpio', 'depmod', 'unshare', BUSYBOX):
        if not shutil.which(tool) and not os.path.exists(tool):
            raise TestbedError(f'the VM stage needs {tool}: run sudo bash scripts/setup.sh --with-vm')
    if os.geteuid() != 0:
        raise TestbedError('the VM stage needs root (run with sudo)')
    if not os.path.exists(os.path.join(REPO, '.venv', 'bin', 'python')):
        raise TestbedError('the VM stage needs the checkout set up: run sudo make setup first')
    started = time.monotonic()
    image_dir, info, build_seconds = ensure_image(release)
    venv = info.get('venv')
    log(f'image {info["key"]}: Debian {release}, kernel {info["release"]}, '
        + (f'its own virtualenv {venv}' if venv else 'sharing .venv') + ' '
        + (f'(built in {build_seconds:.0f} s)' if build_seconds else '(cached)'))
    run = Run('vm')
    died = []
    try:
        accel = choose_accel(image_dir, run)
        log(f'accelerator: {accel["accel"]} ({accel["why"]})')
        boots_started = time.monotonic()
        for boot in range(1, GUEST_BOOTS + 1):
            left = timeout - (time.monotonic() - boots_started)
            results, code, seconds = _boot_guest(image_dir, accel['accel'], venv, pytest_args, run, left, boot)
            if code is None:
                raise TestbedError(f'the VM did not finish within {timeout} s (console: {results}/console.log)')
            rc_file = os.path.join(results, 'rc')
            if os.path.exists(rc_file):
                break
            print(died_report(results, code, seconds), file=sys.stderr)
            died.append(f'{seconds:.0f} s, logs in {results}')
            if boot == GUEST_BOOTS:
                raise TestbedError(f'the VM stopped without a test result {len(died)} times ({"; ".join(died)})')
            log(f'the guest stopped without a test result after {seconds:.0f} s (report above): booting it once '
                'more; tests that failed are never run again, a guest that dies again fails the stage')
    finally:
        run.close()
    rc = int(open(rc_file).read().strip() or 1)
    log(f'VM stage {"passed" if rc == 0 else "FAILED"} in {time.monotonic() - started:.0f} s '
        f'(boot and tests {seconds:.0f} s); logs in {results}'
        + (f'; an earlier boot stopped without a result ({died[0]})' if died else ''))
    with open(os.path.join(results, 'pytest.log'), errors='replace') as handle:
        print(handle.read(), end='')
    return rc
