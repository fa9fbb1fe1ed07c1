"""``make test-vagrant``: the project's Vagrantfile brought up for real on vagrant-libvirt, then ``make demo`` in it.

What a student does, end to end, on this machine: ``vagrant up`` with the project's own ``vagrant/Vagrantfile``
(its provisioning is the README's ``scripts/setup.sh``), ``vagrant ssh -c 'cd /testbed && sudo make demo'`` on the
box's kernel path (netem, sit, the OVS kernel datapath), the web view's port forwarded to 127.0.0.1, then ``vagrant
destroy``. The box is built here (``testbed.vm.box``) because the public one cannot be downloaded everywhere.

Everything runs in a sandbox the run owns: a network namespace and a private mount namespace, held by one
``sleep`` process. Its own libvirtd and virtlogd run there, with /etc/libvirt copied and /var/lib/libvirt,
/run/libvirt, /var/log/libvirt and /var/cache/libvirt mounted over from a folder of the run. So libvirt's
management network (its bridge, dnsmasq, the box's address) exists only inside the namespace, the machine's own
libvirt configuration is never touched, and no route or NAT leads out: the box gets everything it installs from
itself. The namespace is recorded in a testbed run, so ``testbed clean`` ends every process in it after a crash.
KVM is used when the VM stage found it usable, QEMU's TCG otherwise (``TESTBED_VAGRANT_EMULATED=1``).
"""
import json
import os
import shutil
import subprocess
import time

from testbed import REPO
from testbed.errors import TestbedError
from testbed.system.daemon import stop, stop_all
from testbed.system.runstate import Run
from testbed.vm import box as boxes
from testbed.vm.image import cache_dir as vm_cache_dir, log

BOX_ALIAS = 'testbed-local/bookworm'
WEB_PORT = 8168                 # the Vagrantfile forwards it to 127.0.0.1
LIBVIRT_STATE = ('/var/lib/libvirt', '/run/libvirt', '/var/log/libvirt', '/var/cache/libvirt')
STEP_TIMEOUT_S = {'up': 60 * 60, 'demo': 40 * 60, 'web': 10 * 60, 'destroy': 10 * 60}
TOOLS = ('vagrant', 'libvirtd', 'virtlogd', 'virsh', 'qemu-img', 'qemu-system-x86_64', 'dnsmasq', 'nsenter',
         'unshare', 'debootstrap', 'rsync')


def _kvm_usable():
    """What the VM stage's timed probe boot found (it is cached per host kernel); False if it never ran."""
    path = os.path.join(vm_cache_dir(), f'accel-{os.uname().release}.json')
    if not os.path.exists(path):
        return False
    with open(path) as handle:
        return json.load(handle).get('accel') == 'kvm'


class Sandbox:
    """A network and mount namespace of the run's own, holding its libvirtd; ``run(cmd)`` runs a command in it."""

    def __init__(self, run, work):
        self.records, self.work = run, work
        self.holder = subprocess.Popen(['unshare', '--net', '--mount', '--propagation', 'private',
                                        'sleep', 'infinity'])
        run.record_process(self.holder.pid, 'the vagrant sandbox\'s namespaces')
        deadline = time.monotonic() + 5
        while os.readlink(f'/proc/{self.holder.pid}/ns/net') == os.readlink('/proc/self/ns/net'):
            if time.monotonic() > deadline:
                raise TestbedError('the vagrant sandbox\'s namespaces did not appear')
            time.sleep(0.02)
        run.record_netns(self.holder.pid, 'vagrant', 'the vagrant sandbox')
        self.daemons = []

    def command(self, cmd, cwd='/'):
        """``cmd`` as run in the sandbox (entering a mount namespace moves to its root: ``cwd`` is set again)."""
        return ['nsenter', '-t', str(self.holder.pid), '-n', '-m', f'--wd={cwd}', '--'] + cmd

    def run(self, cmd, what, timeout=120, env=None, cwd='/', check=True):
        proc = subprocess.run(self.command(cmd, cwd), capture_output=True, text=True, timeout=timeout, env=env)
        if check and proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
            raise TestbedError(f'{what} failed: {" | ".join(tail)}')
        return proc

    def mount_private_libvirt(self):
        """The machine's libvirt configuration copied, libvirt's state in the run's folder: nothing outside."""
        etc = os.path.join(self.work, 'etc-libvirt')
        shutil.copytree('/etc/libvirt', etc, symlinks=True)
        with open(os.path.join(etc, 'qemu.conf'), 'a') as handle:
            # QEMU runs as root here: it reads the kernel and disk in the run's folder without relabelling.
            handle.write('\n# make test-vagrant\nuser = "root"\ngroup = "root"\nsecurity_driver = "none"\n')
        self.run(['ip', 'link', 'set', 'lo', 'up'], 'loopback')
        self.run(['mount', '--bind', etc, '/etc/libvirt'], 'mounting /etc/libvirt')
        for path in LIBVIRT_STATE:
            private = os.path.join(self.work, path.strip('/').replace('/', '-'))
            os.makedirs(private, exist_ok=True)
            self.run(['mkdir', '-p', path], f'creating {path}')
            self.run(['mount', '--bind', private, path], f'mounting {path}')

    def start_daemon(self, cmd, what):
        log_file = open(os.path.join(self.work, f'{cmd[0]}.log'), 'ab')
        process = subprocess.Popen(self.command(cmd), stdout=log_file, stderr=subprocess.STDOUT)
        self.records.record_process(process.pid, what)
        self.daemons.append(process)
        return process

    def start_libvirt(self):
        self.start_daemon(['virtlogd'], 'virtlogd (vagrant sandbox)')
        self.start_daemon(['libvirtd'], 'libvirtd (vagrant sandbox)')
        deadline = time.monotonic() + 60
        while self.run(['virsh', '-c', 'qemu:///system', 'version'], 'virsh', check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise TestbedError(f'libvirtd did not answer within 60 s (see {self.work}/libvirtd.log)')
            time.sleep(0.5)

    def stop(self):
        """End the daemons, then everything else in the namespace; return what the run's records still name."""
        stop_all(list(reversed(self.daemons)), grace=20)
        left = self.records.sweep()  # the namespace's pin: ends whatever still runs in it (QEMU, dnsmasq, ssh)
        if self.holder.poll() is None:
            self.holder.kill()
        self.holder.wait()
        return left


def _web_status(sandbox, timeout):
    """The HTTP status the forwarded web port answers with inside the sandbox (0: no answer by ``timeout``)."""
    probe = ('import sys, urllib.request, urllib.error\n'
             'try:\n'
             f'    print(urllib.request.urlopen("http://127.0.0.1:{WEB_PORT}/", timeout=5).status)\n'
             'except urllib.error.HTTPError as e:\n'
             '    print(e.code)\n'
             'except Exception:\n'
             '    print(0)\n')
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = sandbox.run(['python3', '-c', probe], 'web probe', check=False).stdout.strip()
        if answer and answer != '0':
            return int(answer)
        time.sleep(2)
    return 0


def run_vagrant_test():
    """Build or reuse the box, bring the Vagrantfile up, run the demo in it, destroy it; return an exit code."""
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if missing:
        raise TestbedError(f'make test-vagrant needs {", ".join(missing)}: '
                           f'run sudo bash scripts/setup.sh --with-vagrant')
    if os.geteuid() != 0:
        raise TestbedError('make test-vagrant needs root (run with sudo)')
    if not os.path.exists(os.path.join(REPO, '.venv', 'bin', 'python')):
        raise TestbedError('make test-vagrant needs the checkout set up: run sudo make setup first')
    started = time.monotonic()
    times = {}
    box_file, info, times['box build'] = boxes.ensure_box()
    log(f'box {info["key"]}: {info["box_mb"]} MB, kernel {info["kernel"]} '
        + (f'(built in {times["box build"]:.0f} s)' if times['box build'] else '(cached)'))
    run = Run('vagrant')
    work = os.path.join(boxes.cache_dir(), 'runs', run.id)
    os.makedirs(work)
    env = dict(os.environ, VAGRANT_HOME=os.path.join(work, 'vagrant.d'), VAGRANT_DOTFILE_PATH=os.path.join(
        work, 'dot'), VAGRANT_CHECKPOINT_DISABLE='1', VAGRANT_DEFAULT_PROVIDER='libvirt',
        TESTBED_VAGRANT_BOX=BOX_ALIAS, TESTBED_VAGRANT_EMULATED='0' if _kvm_usable() else '1')
    vagrant_dir = os.path.join(REPO, 'vagrant')
    sandbox = None
    results = {}
    try:
        sandbox = Sandbox(run, work)
        sandbox.mount_private_libvirt()
        sandbox.start_libvirt()
        log('libvirtd runs in the run\'s own namespaces; vagrant box add, then vagrant up (provisioning: '
            'scripts/setup.sh)' + (' under TCG: slow' if env['TESTBED_VAGRANT_EMULATED'] == '1' else ''))
        sandbox.run(['vagrant', 'box', 'add', '--name', BOX_ALIAS, box_file], 'vagrant box add', timeout=600,
                    env=env)
        results['up'], times['vagrant up'] = _step(sandbox, ['vagrant', 'up', '--provider', 'libvirt'],
                                                   'vagrant up', env, vagrant_dir, work)
        if results['up'] == 0:
            results['demo'], times['make demo'] = _step(
                sandbox, ['vagrant', 'ssh', '-c', 'cd /testbed && sudo make demo'], 'make demo', env, vagrant_dir,
                work)
            doctor = sandbox.run(['vagrant', 'ssh', '-c', 'sudo /testbed/.venv/bin/testbed doctor'], 'doctor',
                                 env=env, cwd=vagrant_dir, check=False, timeout=300).stdout
            _save(work, 'doctor.txt', doctor)
            results['doctor'] = doctor
            results['web'], times['web view'] = _web_check(sandbox, env, vagrant_dir)
    finally:
        if sandbox:
            if os.path.exists(os.path.join(work, 'dot')):
                code, times['vagrant destroy'] = _step(sandbox, ['vagrant', 'destroy', '-f'], 'vagrant destroy',
                                                       env, vagrant_dir, work)
                results['destroy'] = code
            results['left'] = sandbox.stop()
        _keep_logs(work)
        shutil.rmtree(work, ignore_errors=True)
        run.close()
    times['total'] = time.monotonic() - started
    paths = [line.split()[:2] for line in results.get('doctor', '').splitlines()
             if line.strip().startswith(('delay ', 'tunnel ', 'datapath '))]
    on_kernel_paths = len(paths) == 3 and all(path == 'kernel' for _, path in paths)
    ok = results.get('up') == 0 and results.get('demo') == 0 and on_kernel_paths \
        and results.get('web') in (200, 403) and results.get('destroy') == 0 and not results.get('left')
    log('; '.join(f'{name} {seconds:.0f} s' for name, seconds in times.items()))
    log(f'vagrant up: {"ok" if results.get("up") == 0 else "FAILED"}; make demo in the box: '
        f'{"passed" if results.get("demo") == 0 else "FAILED"}; web view on 127.0.0.1:{WEB_PORT} answered '
        f'{results.get("web", "nothing")}; destroyed: {"yes" if results.get("destroy") == 0 else "NO"}; left on '
        f'this machine: {results.get("left") or "nothing"}')
    log('paths in the box (all kernel, or the test fails): '
        + (', '.join(f'{name} {path}' for name, path in paths) or 'unknown (see doctor.txt)'))
    log(f'test-vagrant {"passed" if ok else "FAILED"} in {times["total"]:.0f} s; logs in {_logs_dir()}')
    return 0 if ok else 1


def _step(sandbox, cmd, name, env, cwd, work):
    """Run one vagrant command in the sandbox with its output in a log; (exit code, seconds)."""
    started = time.monotonic()
    log(f'{name} ...')
    key = name.split()[-1]
    try:
        proc = sandbox.run(cmd, name, timeout=STEP_TIMEOUT_S.get(key, 600), env=env, cwd=cwd, check=False)
        code, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        code, output = 124, f'{name}: no end within {exc.timeout} s\n'
    _save(work, f'{name.replace(" ", "-")}.log', output)
    seconds = time.monotonic() - started
    tail = [line for line in output.strip().splitlines() if line.strip()][-3:]
    log(f'{name}: exit {code} in {seconds:.0f} s' + (f' | {" | ".join(tail)}' if code else ''))
    return code, seconds


def _web_check(sandbox, env, cwd):
    """The web view in the box, bound to its own 0.0.0.0:8168, reached through the forwarded 127.0.0.1:8168."""
    started = time.monotonic()
    view = subprocess.Popen(sandbox.command(['vagrant', 'ssh', '-c', 'cd /testbed && sudo timeout 240 .venv/bin/'
                                             f'testbed run single --web {WEB_PORT} --web-bind 0.0.0.0'], cwd),
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        status = _web_status(sandbox, 200)
    finally:
        stop(view, grace=30)
    log(f'web view through the forwarded port: HTTP {status or "no answer"}')
    return status, time.monotonic() - started


def _save(work, name, text):
    with open(os.path.join(work, name), 'w') as handle:
        handle.write(text)


def _logs_dir():
    return os.path.join(boxes.cache_dir(), 'last-run')


def _keep_logs(work):
    """The run's logs (not its disks) in .cache/vagrant/last-run."""
    logs = _logs_dir()
    shutil.rmtree(logs, ignore_errors=True)
    os.makedirs(logs)
    for name in os.listdir(work) if os.path.isdir(work) else ():
        if name.endswith(('.log', '.txt')):
            shutil.copy(os.path.join(work, name), logs)
    qemu_logs = os.path.join(work, 'var-log-libvirt', 'qemu')
    for name in os.listdir(qemu_logs) if os.path.isdir(qemu_logs) else ():
        shutil.copy(os.path.join(qemu_logs, name), os.path.join(logs, 'qemu-' + name))
