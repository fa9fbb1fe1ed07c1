"""The ``testbed`` command: doctor, list, run, tables, sixtofour, circuits, demo, experiment, lab, clean, bench, vm,
cluster.

Quiet by default (a few progress lines on stderr), ``-v`` for Mininet's own detail. Every user mistake ends with
one line ``testbed: error: ...`` and exit code 2; Ctrl-C and SIGTERM stop any command with everything it created
removed and exit code 130 / 143.
"""
import argparse
import json
import os
import sys
import time
import traceback

from testbed import __version__
from testbed.errors import TestbedError
from testbed.system.interrupts import Stopped, exit_code, stop_on_signals
from testbed.ryu_compat import RUNTIMES as CONTROLLER_RUNTIMES
from testbed.system.probe import FEATURES
from testbed.vm.plan import (RELEASES as VM_RELEASES, RUN_TIMEOUT_S as VM_TIMEOUT_S, SUITE as VM_DEFAULT_RELEASE,
                             PlanError, release_suite)
from testbed.web.view import DEFAULT_PORT as DEFAULT_WEB_PORT

EXIT_USAGE = 2
EXIT_FAILURE = 1
BENCH_PATHS = ('available', 'kernel', 'userspace')


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line and exit code 2."""

    def error(self, message):
        raise TestbedError(f'{message} (see: {self.prog} --help)')


def progress(message):
    print(f'testbed: {message}', file=sys.stderr, flush=True)


# -- commands ------------------------------------------------------------------------------------------------------

def cmd_doctor(args):
    from testbed.system.probe import current_plan, doctor_json, doctor_report, probe
    caps, plan = probe(), current_plan()
    print(doctor_json(caps, plan) if args.json else doctor_report(caps, plan))
    return 0


def cmd_list(args):
    from testbed.reports.catalog import describe, topologies
    from testbed.transition.survey import SURVEY
    topos = topologies()
    if args.json:
        print(json.dumps({'topologies': {name: {'module': module, 'description': describe(factory)}
                                         for name, (factory, module) in sorted(topos.items())}}, indent=2))
        return 0
    print('topologies (testbed run NAME [--param k=v ...]):')
    for name, (factory, _module) in sorted(topos.items()):
        print(f'  {name:<14} {describe(factory)}')
    print('\nIPv6 transition mechanisms (the paper\'s survey and today\'s; README "Transition techniques"):')
    for mechanism in SURVEY:
        where = f'testbed run {mechanism.topology}' if mechanism.topology else 'not built yet'
        print(f'  {mechanism.name:<44} {where}\n      {mechanism.rfc}; {mechanism.status}')
    return 0


def _hold():
    progress('network up; Ctrl-C to stop')
    while True:
        time.sleep(3600)


def _results_folder(text):
    """A folder that exists or can be made (checked now, so a long run does not fail at its end)."""
    path = os.path.abspath(text)
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f'{text} cannot be a results folder ({existing} is not a writable '
                                         f'directory)')
    return text


def _positive_int(text):
    if not text.strip().isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number above 0')
    return int(text)


def _vm_release(text):
    try:
        return release_suite(text)
    except PlanError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _servers(text):
    servers = [server.strip() for server in text.split(',')]
    if not all(servers) or len(set(servers)) != len(servers):
        raise argparse.ArgumentTypeError(f'{text!r}: name each server once, separated by commas')
    return servers


def _port(text):
    if not text.strip().isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f'{text!r} is not a TCP port (0-65535; 0: any free one)')
    return int(text)


def _existing_file(text):
    path = os.path.abspath(text)
    if not os.path.isfile(path):
        raise argparse.ArgumentTypeError(f'{path} does not exist')
    return path


def _algorithm(text):
    """--algorithm: a built-in algorithm, or module:FILE (made absolute: the controller runs elsewhere)."""
    from testbed.control.routing import ALGORITHMS, MODULE_ALGORITHM
    if text in ALGORITHMS:
        return text
    if text.startswith(MODULE_ALGORITHM):
        path = os.path.abspath(text[len(MODULE_ALGORITHM):])
        if not os.path.isfile(path):
            raise argparse.ArgumentTypeError(f'routing module {path} does not exist')
        return MODULE_ALGORITHM + path
    raise argparse.ArgumentTypeError(f'{text!r} is not one of {", ".join(ALGORITHMS)} or module:FILE.py')


def cmd_run(args):
    from testbed.control.ryu import parse_controller_address
    from testbed.network.topo import load, parse_params
    from testbed.reports.catalog import known_topologies
    if args.remote_controller and args.controller:
        raise TestbedError('--remote-controller and --controller exclude each other')
    if args.aggregate and not args.controller:
        raise TestbedError('--aggregate is an option of the testbed\'s router app: add --controller')
    if args.controller_runtime and not args.controller:
        raise TestbedError('--controller-runtime chooses what runs the testbed\'s router app: add --controller')
    if args.remote_controller:
        parse_controller_address(args.remote_controller)
    if args.cluster:
        clash = [option for option, value in (('--web', args.web), ('--remote-controller', args.remote_controller),
                                              ('--admission', args.admission)) if value is not None]
        if clash:
            raise TestbedError(f'{", ".join(clash)}: not with --cluster yet')
    elif args.placement:
        raise TestbedError('--placement places nodes on the servers of --cluster: add --cluster')
    topo, name = load(args.topology, parse_params(args.param), known_topologies())
    if os.geteuid() != 0:
        raise TestbedError('testbed run needs root (run with sudo)')
    progress(f'building {name}: {len(topo.hosts())} hosts, {len(topo.switches())} switches, '
             f'{len(topo.links())} links')
    return _run_network(args, topo, name, time.monotonic())


def _run_network(args, topo, name, started):
    from mininet.cli import CLI
    from mininet.log import setLogLevel
    from testbed.network.net import TestbedNet
    net = web = None
    try:
        if args.cluster:
            from testbed.cluster.net import ClusterNet
            net = ClusterNet(topo, servers=args.cluster, placement=args.placement or 'switchbin', label=name,
                             controller='router' if args.controller else None, algorithm=args.algorithm,
                             metric=args.metric, aggregate=args.aggregate,
                             controller_runtime=args.controller_runtime)
        else:
            net = TestbedNet(topo, label=name, controller='router' if args.controller else None,
                             algorithm=args.algorithm, metric=args.metric, admission=args.admission,
                             remote_controller=args.remote_controller, aggregate=args.aggregate,
                             controller_runtime=args.controller_runtime)
        net.start()
        progress(f'{name} up in {time.monotonic() - started:.1f} s (run {net.run.id})')
        if args.web is not None:
            from testbed.web.server import WebView
            from testbed.web.state import NetworkView
            web = WebView(NetworkView(net.run.id, net.run.dir, net.network_record()), args.web_bind, args.web)
            progress(f'web view: {web.url} (the token in it allows actions; Ctrl-C stops the network and the view)')
        print(f'run: {net.run.id}')
        print('paths: ' + ', '.join(f'{f}={net.plan.path(f)}' for f in FEATURES))
        for server in args.cluster or ():
            names = [node.name for node in net.hosts + net.switches if getattr(node, 'server', None) == server]
            paths = ', '.join(f'{feature}={path}' for feature, path in net.paths.get(server, {}).items())
            print(f'  server {server} ({paths}): {" ".join(names) or "nothing placed"}')
        for link, shaping, path in net.describe_links():
            print(f'  link {link:<12} {shaping:<28} {path}')
        sys.stdout.flush()
        if args.cli:
            if not args.verbose:  # the CLI prints what commands return at Mininet's 'output' level
                setLogLevel('output')
            CLI(net)
        elif args.test == 'pingall':
            loss = net.pingAll(timeout=2)
            print(f'pingall: {loss:g}% dropped')
            return 0 if loss == 0 else 1
        elif args.test == 'none':
            return 0
        else:
            _hold()
    finally:
        if web is not None:
            web.stop()
        if net is not None:
            net.stop()
    return 0


def cmd_web(args):
    from testbed.web.server import WebView
    from testbed.web.state import NetworkView
    view = NetworkView.attach(args.run, args.results)
    if os.geteuid() != 0:
        raise TestbedError('testbed web needs root to read the namespaces\' counters and the switches (run with sudo)')
    web = WebView(view, args.bind, args.port)
    progress(f'web view of run {web.view.run_id}: {web.url} (the token in it allows actions; Ctrl-C stops the view)')
    try:
        while True:
            time.sleep(3600)
    finally:
        web.stop()


def cmd_tables(args):
    from testbed.control.tables import show_tables
    if os.geteuid() != 0:
        raise TestbedError('testbed tables needs root to read the switches (run with sudo)')
    return show_tables(args.switch, args.run, args.json)


def cmd_circuits(args):
    from testbed.control.client import check_circuit_request, circuits_command
    check_circuit_request(args.action, args.src, args.dst, args.rate, args.id)
    if os.geteuid() != 0:
        raise TestbedError('testbed circuits needs root (run with sudo)')
    return circuits_command(args.action, args.run, args.src, args.dst, args.rate, args.id)


def cmd_sixtofour(args):
    from testbed.transition.status import tunnels_command
    if os.geteuid() != 0:
        raise TestbedError('testbed tunnels needs root to read counters inside the namespaces (run with sudo)')
    return tunnels_command(args.run, args.json)


def cmd_experiment(args):
    from testbed.reports import experiment
    from testbed.network.topo import parse_params
    if args.action == 'list':
        known = sorted(experiment.registry().items())
        width = max(len(name) for name, _ in known)
        for name, item in known:
            print(f'{name:<{width}}  {item.title}')
        return 0
    if args.action == 'compare':
        if len(args.targets) != 2:
            raise TestbedError('testbed experiment compare needs two results folders')
        a, b = (experiment.load_result(folder) for folder in args.targets)
        for line in experiment.compare_results(a, b):
            print(line)
        return 0
    if not args.targets:
        needed = 'an experiment name (or all)' if args.action == 'run' else 'a results folder'
        raise TestbedError(f'testbed experiment {args.action} needs {needed}')
    if args.action == 'run':
        overrides = parse_params(args.param or [])
        for name in args.targets:
            if name != 'all':
                experiment.merged_params(experiment.resolve(name), overrides)
    if os.geteuid() != 0:
        raise TestbedError(f'testbed experiment {args.action} needs root (run with sudo)')
    if args.action == 'replay':
        return experiment.replay(args.targets[0], args.results, log=progress)
    return experiment.run_command(args.targets, overrides, args.json, args.results, log=progress)


def cmd_lab(args):
    from testbed.reports import labs
    if args.action == 'list':
        for number, lab in sorted(labs.registry().items()):
            print(f'lab {number}  {lab.title}  (labs/{os.path.basename(lab.folder)}/handout.md)')
        return 0
    if args.number is None:
        raise TestbedError(f'testbed lab {args.action} needs a lab number (testbed lab list)')
    if not args.student:
        raise TestbedError(f'testbed lab {args.action} needs --student ID')
    if args.action == 'start':
        labs.start(args.number, args.student, args.dir, log=progress)
        return 0
    labs.locate(args.number, args.student, args.dir)
    if os.geteuid() != 0:
        raise TestbedError('testbed lab grade needs root: it measures the network (run with sudo)')
    result = labs.grade(args.number, args.student, args.dir, log=progress)
    print(json.dumps(result, indent=1) if args.json else labs.format_report(result))
    return 0


def cmd_clean(args):
    from testbed.cluster.remote import clean_on_server
    from testbed.system.runstate import clean, list_runs
    if os.geteuid() != 0:
        raise TestbedError('testbed clean needs root (run with sudo)')
    if args.list:
        for run_id, _dir, alive in list_runs():
            print(f'{run_id}  {"running" if alive else "dead (cleanable)"}')
        return 0
    cleaned, live = clean(run_id=args.run, log=(print if args.verbose else lambda message: None),
                          servers=clean_on_server)
    if args.run and not cleaned:
        raise TestbedError(f'no recorded run {args.run!r} (see: testbed clean --list)')
    print(f'cleaned {len(cleaned)} run(s)' + (f'; {len(live)} still running: {", ".join(live)}' if live else ''))
    return 0


def cmd_demo(args):
    from testbed.reports.demo import run_demo
    if os.geteuid() != 0:
        raise TestbedError('testbed demo needs root (run with sudo)')
    return run_demo(results_dir=args.results, log=progress)


def cmd_vm(args):
    if args.vm == 'vagrant':
        from testbed.vm.vagrant import run_vagrant_test
        return run_vagrant_test()
    if args.vm == 'build':
        from testbed.vm.image import ensure_image
        image_dir, info, seconds = ensure_image(args.release, rebuild=args.rebuild)
        print(f'{image_dir}: Debian {args.release}, kernel {info["release"]}, '
              + (f'built in {seconds:.0f} s' if seconds else 'cached'))
        return 0
    from testbed.vm.stage import run_stage
    return run_stage(pytest_args=args.pytest_args, timeout=args.timeout, suite=args.suite, release=args.release)


def cmd_cluster(args):
    if os.geteuid() != 0:
        raise TestbedError(f'testbed cluster {args.cluster} needs root (run with sudo)')
    if args.cluster == 'doctor':
        from testbed.cluster import doctor
        rows = doctor.check(args.servers)
        print('\n'.join(doctor.render(rows)))
        return 0 if all(row['ok'] for row in rows) else 1
    if args.cluster == 'setup':
        from testbed.cluster.setup import run_setup
        return run_setup(args.servers)
    from testbed.cluster.fake import FakeCluster
    cluster = FakeCluster(args.servers).start()
    try:
        print(f'export TESTBED_SSH_CONFIG={cluster.environ()["TESTBED_SSH_CONFIG"]}', flush=True)
        progress(f'{len(cluster.servers)} fake servers up: {" ".join(cluster.addresses)} (ssh with the '
                 'configuration above); Ctrl-C stops them')
        while True:
            time.sleep(3600)
    finally:
        cluster.stop()


def cmd_bench_control(args):
    from testbed.reports.benchcontrol import run_control_bench
    if os.geteuid() != 0 and not args.offline:
        raise TestbedError('testbed bench control needs root for the live part (or use --offline)')
    return run_control_bench(as_json=args.json, live=not args.offline)


def cmd_bench_sixtofour(args):
    from testbed.reports.benchsixtofour import run_sixtofour_bench
    if os.geteuid() != 0:
        raise TestbedError('testbed bench sixtofour needs root (run with sudo)')
    return run_sixtofour_bench(as_json=args.json, paths=args.paths)


def cmd_bench_web(args):
    from testbed.reports.benchweb import run_web_bench
    if os.geteuid() != 0:
        raise TestbedError('testbed bench web needs root (run with sudo)')
    return run_web_bench(as_json=args.json)


def cmd_bench_scale(args):
    from testbed.reports.benchscale import run_scale_bench
    if os.geteuid() != 0:
        raise TestbedError('testbed bench scale needs root (run with sudo)')
    return run_scale_bench(as_json=args.json, largest=not args.quick)


def cmd_bench_cluster(args):
    from testbed.reports.benchcluster import run_cluster_bench
    if os.geteuid() != 0:
        raise TestbedError('testbed bench cluster needs root (run with sudo)')
    return run_cluster_bench(as_json=args.json)


def cmd_bench(args):
    from testbed.reports.bench import run_link_bench
    if os.geteuid() != 0:
        raise TestbedError('testbed bench needs root (run with sudo)')
    return run_link_bench(as_json=args.json, quick=args.quick, paths=args.paths)


# -- parser --------------------------------------------------------------------------------------------------------

def build_parser():
    parser = _Parser(prog='testbed', description='Mininet-based network emulation testbed: links, switches, '
                     'a Ryu control plane and 6to4, with fidelity checks.')
    parser.add_argument('--version', action='version', version=f'testbed {__version__}')
    parser.add_argument('-v', '--verbose', action='store_true', help='show Mininet\'s detail')
    parser.add_argument('--path', choices=('auto', 'kernel', 'userspace'),
                        help='force the data-plane path of every feature (default: auto, from the probe; '
                             'per feature with TESTBED_PATH=delay=userspace,...)')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', parser_class=_Parser)

    doctor = sub.add_parser('doctor', help='probe the kernel and tools; say which path each feature uses')
    doctor.add_argument('--json', action='store_true', help='print the same as a JSON object')
    doctor.set_defaults(func=cmd_doctor)

    lister = sub.add_parser('list', help='list topologies')
    lister.add_argument('--json', action='store_true')
    lister.set_defaults(func=cmd_list)

    run = sub.add_parser('run', help='build and start a topology')
    run.add_argument('topology', help='a registered name (testbed list) or a .py/.json/.yaml file')
    run.add_argument('--param', action='append', metavar='KEY=VALUE', help='topology parameter (repeatable)')
    mode = run.add_mutually_exclusive_group()
    mode.add_argument('--cli', action='store_true', help='open Mininet\'s CLI')
    mode.add_argument('--test', choices=('pingall', 'none'), help='run a test and stop (default: stay up until '
                                                                  'Ctrl-C)')
    run.add_argument('--controller', action='store_true',
                     help='route with the testbed\'s Ryu controller (computed forwarding tables) instead of '
                          'standalone learning switches')
    run.add_argument('--controller-runtime', choices=CONTROLLER_RUNTIMES,
                     help='what runs the router app (with --controller): ryu, Ryu 4.34 (the default, or '
                          '$TESTBED_CONTROLLER_RUNTIME), or os-ken, its maintained fork (3.x)')
    run.add_argument('--remote-controller', metavar='HOST[:PORT]',
                     help='point every switch at an OpenFlow 1.3 controller you run (port 6653 by default), e.g. '
                          'python -m testbed.ryu_compat ryu.app.simple_switch_13')
    run.add_argument('--algorithm', type=_algorithm, default='link-state', metavar='ALGORITHM',
                     help='route computation (with --controller): link-state, distance-vector, or module:FILE.py '
                          '(your own next_hops(graph, source), as in lab 2)')
    run.add_argument('--web', nargs='?', const=DEFAULT_WEB_PORT, type=_port, metavar='PORT',
                     help=f'serve a live view of the network (default port {DEFAULT_WEB_PORT}) while it runs')
    run.add_argument('--web-bind', default='127.0.0.1', metavar='ADDRESS',
                     help='the address the view listens on (default 127.0.0.1: this machine only)')
    run.add_argument('--metric', choices=('hops', 'delay', 'bandwidth'), default='hops',
                     help='link cost (with --controller)')
    run.add_argument('--aggregate', action='store_true',
                     help='merge adjacent prefixes that leave by one port: fewer entries, the same forwarding '
                          '(with --controller; for networks of hundreds of switches)')
    run.add_argument('--admission', type=_existing_file, metavar='FILE.py',
                     help='circuit admission by your admit(path_links, rate) (with --controller; lab 4)')
    run.add_argument('--cluster', type=_servers, metavar='SERVER[,SERVER...]',
                     help='spread the network over these servers with Mininet\'s cluster edition (localhost is this '
                          'machine; testbed cluster doctor checks them first)')
    run.add_argument('--placement', choices=('switchbin', 'hostswitchbin', 'roundrobin', 'random'),
                     help='how nodes are placed on the servers (with --cluster; default switchbin: each server a '
                          'run of neighbouring switches with their hosts)')
    run.set_defaults(func=cmd_run)

    tables = sub.add_parser('tables', help='forwarding tables of a running network, read from its switches')
    tables.add_argument('switch', nargs='?', help='one switch (default: all)')
    tables.add_argument('--run', help='the run, when several networks are up')
    tables.add_argument('--json', action='store_true')
    tables.set_defaults(func=cmd_tables)
    exp = sub.add_parser('experiment', help='experiments against theory: list, run NAME|all, replay DIR, compare A B')
    exp.add_argument('action', choices=['list', 'run', 'replay', 'compare'])
    exp.add_argument('targets', nargs='*', help='experiment names (or all), or results folders')
    exp.add_argument('--param', action='append', metavar='KEY=VALUE', help='override a parameter (run)')
    exp.add_argument('--json', action='store_true')
    exp.add_argument('--results', type=_results_folder, default='results',
                     help='folder for results (default: results)')
    exp.set_defaults(func=cmd_experiment)
    lab = sub.add_parser('lab', help='lab assignments: list, start N --student ID, grade N --student ID')
    lab.add_argument('action', choices=['list', 'start', 'grade'])
    lab.add_argument('number', nargs='?', help='the lab number (testbed lab list)')
    lab.add_argument('--student', help='the student id: it picks the student\'s parameters')
    lab.add_argument('--dir', help='the working folder (default: labN-ID)')
    lab.add_argument('--json', action='store_true', help='grade: the report as JSON, for a course system')
    lab.set_defaults(func=cmd_lab)
    web = sub.add_parser('web', help='a live view of a running network in the browser (and its JSON API)')
    web.add_argument('--run', help='the run, when several networks are up')
    web.add_argument('--port', type=_port, default=DEFAULT_WEB_PORT, help=f'default {DEFAULT_WEB_PORT}')
    web.add_argument('--bind', default='127.0.0.1', metavar='ADDRESS',
                     help='the address to listen on (default 127.0.0.1: this machine only)')
    web.add_argument('--results', default='results', metavar='DIR',
                     help='the results folder the page lets you browse (default: results)')
    web.set_defaults(func=cmd_web)

    sixtofour = sub.add_parser('tunnels', aliases=['sixtofour'],
                               help='tunnel and translator counters of a running network (6to4, every mode, NAT64)')
    sixtofour.add_argument('--run', help='the run, when several networks are up')
    sixtofour.add_argument('--json', action='store_true')
    sixtofour.set_defaults(func=cmd_sixtofour)

    circuits = sub.add_parser('circuits', help='reservations (circuit switching) in a running network')
    circuits.add_argument('action', choices=('list', 'reserve', 'teardown'), nargs='?', default='list')
    circuits.add_argument('src', nargs='?', help='reserve: source host')
    circuits.add_argument('dst', nargs='?', help='reserve: destination host')
    circuits.add_argument('rate', nargs='?', help='reserve: rate (4 = 4 Mb/s, or 500kbit)')
    circuits.add_argument('--id', help='teardown: the circuit id')
    circuits.add_argument('--run', help='the run, when several networks are up')
    circuits.set_defaults(func=cmd_circuits)

    demo = sub.add_parser('demo', help='the main job end to end, with a readable report')
    demo.add_argument('--results', type=_results_folder, default='results',
                      help='folder for the report (default: results)')
    demo.set_defaults(func=cmd_demo)

    cleaner = sub.add_parser('clean', help='remove what crashed or killed runs left (only what they recorded)')
    cleaner.add_argument('--run', metavar='RUN_ID', help='clean this run only (even if its owner still runs)')
    cleaner.add_argument('--list', action='store_true', help='list recorded runs')
    cleaner.set_defaults(func=cmd_clean)

    vmp = sub.add_parser('vm', help='the VM stage: the kernel path on a stock Debian kernel under QEMU')
    vm_sub = vmp.add_subparsers(dest='vm', metavar='WHAT', parser_class=_Parser)
    vm_test = vm_sub.add_parser('test', help='build or reuse the image, boot it, run the integration tests inside')
    vm_test.add_argument('--suite', choices=('smoke', 'full'), default=os.environ.get('TESTBED_VM_SUITE', 'smoke'),
                         help='smoke: each kernel feature once, under 5 min warm (default, or $TESTBED_VM_SUITE); '
                              'full: every integration test with a kernel-path variant')
    vm_test.add_argument('--pytest-args', help='arguments for pytest in the guest (overrides --suite)')
    vm_test.add_argument('--timeout', type=_positive_int, default=VM_TIMEOUT_S,
                         help='seconds before the VM is stopped')
    vm_test.set_defaults(func=cmd_vm)
    vm_build = vm_sub.add_parser('build', help='build the VM image (or say it is cached)')
    vm_build.add_argument('--rebuild', action='store_true', help='build it anew even if it is cached')
    vm_build.set_defaults(func=cmd_vm)
    vm_vagrant = vm_sub.add_parser('vagrant', help='make test-vagrant: vagrant up with vagrant/Vagrantfile on '
                                   'vagrant-libvirt, make demo in the box, its web port, vagrant destroy')
    vm_vagrant.set_defaults(func=cmd_vm)
    for vm_parser in (vm_test, vm_build):
        vm_parser.add_argument('--release', type=_vm_release, default=VM_DEFAULT_RELEASE,
                               help=f'the guest\'s Debian release: {", ".join(VM_RELEASES)} '
                                    f'(default {VM_DEFAULT_RELEASE})')

    cluster = sub.add_parser('cluster', help='servers for a network across machines: doctor, setup, fake')
    cluster_sub = cluster.add_subparsers(dest='cluster', metavar='WHAT', parser_class=_Parser, required=True)
    doctor = cluster_sub.add_parser('doctor', help='check each server for a cluster run and say what to fix')
    doctor.add_argument('servers', nargs='+', metavar='SERVER', help='a server\'s name or address')
    doctor.set_defaults(func=cmd_cluster)
    setup = cluster_sub.add_parser('setup', help='the one-time steps on each server (a key, sshd PermitTunnel), '
                                                 'then the doctor')
    setup.add_argument('servers', nargs='+', metavar='SERVER', help='a server\'s name or address')
    setup.set_defaults(func=cmd_cluster)
    fake = cluster_sub.add_parser('fake', help='fake servers on this machine (own namespaces, sshd and Open '
                                               'vSwitch) until Ctrl-C')
    fake.add_argument('--servers', type=_positive_int, default=2, help='how many (default 2, at most 8)')
    fake.set_defaults(func=cmd_cluster)

    bench = sub.add_parser('bench', help='benchmarks that print a table')
    bench_sub = bench.add_subparsers(dest='bench', metavar='WHAT', parser_class=_Parser)
    links = bench_sub.add_parser('links', help='configured vs measured RTT, goodput, loss; delay-line ceiling')
    links.add_argument('--json', action='store_true')
    links.add_argument('--quick', action='store_true', help='fewer samples (a smoke run, not for the record)')
    links.add_argument('--paths', choices=BENCH_PATHS, default='available',
                       help='kernel, userspace or available (default)')
    links.set_defaults(func=cmd_bench)
    control = bench_sub.add_parser('control', help='route computation (link-state vs distance-vector) and '
                                                   'installing all tables on 100 switches')
    control.add_argument('--json', action='store_true')
    control.add_argument('--offline', action='store_true', help='only the pure computation (no network)')
    control.set_defaults(func=cmd_bench_control)
    sixtofour = bench_sub.add_parser('sixtofour', help='6to4 goodput vs IPv4 and added RTT on each tunnel path')
    sixtofour.add_argument('--json', action='store_true')
    sixtofour.add_argument('--paths', choices=BENCH_PATHS, default='available',
                           help='kernel, userspace or available (default)')
    sixtofour.set_defaults(func=cmd_bench_sixtofour)
    web_bench = bench_sub.add_parser('web', help='what the live web view costs the machine, page open vs closed')
    web_bench.add_argument('--json', action='store_true')
    web_bench.set_defaults(func=cmd_bench_web)
    scale = bench_sub.add_parser('scale', help='up, stop and memory against plain Mininet: linear,10 and 100, '
                                               'a grid of 506 switches')
    scale.add_argument('--json', action='store_true')
    scale.add_argument('--quick', action='store_true', help='the two linear cases only (not the grid)')
    scale.set_defaults(func=cmd_bench_scale)
    cluster_bench = bench_sub.add_parser('cluster', help='up, stop, memory per node and CPU per Mb/s of a network on '
                                                         'one fake server and on two')
    cluster_bench.add_argument('--json', action='store_true')
    cluster_bench.set_defaults(func=cmd_bench_cluster)
    return parser


def main(argv=None):
    """Run one command. Whatever happens, the user sees one line: an input error (exit 2), an interruption by
    Ctrl-C or SIGTERM after everything the command built was removed (130, 143), or an unexpected failure named
    by its exception (exit 1; ``-v`` prints the traceback too)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        with stop_on_signals():
            args = parser.parse_args(argv)
            if args.path:
                os.environ['TESTBED_PATH'] = args.path
            if not getattr(args, 'func', None):
                parser.print_help()
                return EXIT_USAGE
            from mininet.log import setLogLevel
            setLogLevel('info' if args.verbose else 'warning')
            return args.func(args)
    except TestbedError as exc:
        print(f'testbed: error: {exc}', file=sys.stderr)
        return exc.exit_code
    except (KeyboardInterrupt, Stopped) as stop:
        print(f'testbed: stopped by {stop if isinstance(stop, Stopped) else "SIGINT (Ctrl-C)"}', file=sys.stderr)
        return exit_code(stop)
    except BrokenPipeError:
        return 1
    except Exception as exc:  # a bug, or a failure nobody foresaw: still one line, the traceback on request
        if '-v' in argv or '--verbose' in argv:
            traceback.print_exc()
        print(f'testbed: error: unexpected {type(exc).__name__}: {exc or "no detail"} (run with -v for the '
              f'traceback)', file=sys.stderr)
        return EXIT_FAILURE


if __name__ == '__main__':
    sys.exit(main())
