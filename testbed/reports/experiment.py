"""Experiments: a textbook model, a procedure on the testbed, and how close they came, with provenance.

An experiment (a module in ``experiments/`` exposing ``EXPERIMENT``) declares its topology, parameters, theory
(expected values computed from the parameters), procedure (one repetition measured on a running network) and a
tolerance per quantity. ``run`` builds the network, repeats the procedure, compares the mean of each quantity with
its expected value and writes a results folder:

- ``raw.json`` / ``raw.csv``: every repetition's measurements, the expected values and the comparison rows;
- ``report.md``: the model, the parameters, measured vs expected with pass/fail, the paths used;
- ``provenance.json``: git commit, versions, data-plane paths, topology and parameters with a hash, the seed,
  ``tc -s qdisc``, flow tables, routes of every namespace (what ``replay`` and ``compare`` read);
- plots, when the experiment draws any.

``evaluate`` and ``compare_results`` are pure; the rest drives the network.
"""
import csv
import datetime
import hashlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

from testbed import REPO
from testbed.errors import TestbedError
from testbed.measure.compare import Comparison
from testbed.system.probe import FEATURES

LOAD_TEST_LIMIT_S = 600  # no experiment's traffic may be asked to run longer than this
EXPERIMENTS_DIR = os.path.join(REPO, 'experiments')


@dataclass
class Quantity:
    """One compared quantity: its expected value and how far the measured mean may be from it.

    ``bound`` makes it one-sided: 'max' passes any mean up to expected + tolerance (an outage of at most 100 ms),
    'min' any mean from expected - tolerance up (a ratio of at least 100).
    """

    name: str
    expected: float
    unit: str
    absolute: float = 0.0     # tolerance = max(absolute, relative x |expected|)
    relative: float = 0.0
    bound: str = ''            # '' (two-sided), 'max' or 'min'

    @property
    def tolerance(self):
        return max(self.absolute, self.relative * abs(self.expected))

    def compare(self, value):
        """The measured ``value`` (None: no data) against this quantity, as the one comparison type."""
        if self.bound == 'max':
            return Comparison.at_most(self.name, value, self.expected, self.tolerance, self.unit)
        if self.bound == 'min':
            return Comparison.at_least(self.name, value, self.expected, self.tolerance, self.unit)
        return Comparison.within(self.name, value, self.expected, self.tolerance, self.unit)

    def accepts(self, value):
        return self.compare(value).ok


@dataclass
class Experiment:
    name: str
    title: str
    model: str                       # the textbook model, one paragraph of Markdown
    topology: object                 # callable(params) -> Topo
    theory: object                   # callable(params) -> [Quantity]
    measure: object                  # callable(net, params, repetition, log) -> {quantity name: value}
    params: dict = field(default_factory=dict)
    controller: object = None        # None or 'router'
    repetitions: int = 3
    plot: object = None              # callable(result, folder) -> [file names]
    notes: object = None             # callable(result) -> [Markdown lines]
    check: object = None             # callable(params) -> None; raises TestbedError on inconsistent values
    ranges: dict = field(default_factory=dict)  # numeric parameter -> (low, high) or (low, high, 'whole')


# -- pure: comparison --------------------------------------------------------------------------------------------

def evaluate(quantities, repetitions):
    """Rows comparing each quantity's mean over ``repetitions`` (dicts of measurements) with its expected value."""
    rows = []
    for quantity in quantities:
        values = [rep[quantity.name] for rep in repetitions if rep.get(quantity.name) is not None]
        comparison = quantity.compare(statistics.fmean(values) if values else None)
        rows.append({'quantity': quantity.name, 'expected': quantity.expected, 'measured': comparison.measured,
                     'stdev': statistics.pstdev(values) if values else None, 'n': len(values),
                     'tolerance': quantity.tolerance, 'unit': quantity.unit, 'bound': quantity.bound,
                     'pass': comparison.ok})
    return rows


def params_hash(name, params, topology_description):
    text = json.dumps({'experiment': name, 'params': params, 'topology': topology_description}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def compare_results(a, b):
    """What differs between two results (raw + provenance dicts): parameters, versions, paths, and each quantity."""
    lines = []
    for section in ('params', 'versions', 'paths'):
        left, right = a['provenance'].get(section, {}), b['provenance'].get(section, {})
        for key in sorted(set(left) | set(right)):
            if left.get(key) != right.get(key):
                lines.append(f'{section}.{key}: {left.get(key)} -> {right.get(key)}')
    if not lines:
        lines.append('same parameters, versions and paths')
    rows_b = {row['quantity']: row for row in b['raw']['rows']}
    for row in a['raw']['rows']:
        other = rows_b.get(row['quantity'])
        if other is None or row['measured'] is None or other['measured'] is None:
            lines.append(f'{row["quantity"]}: only in one result')
            continue
        delta = other['measured'] - row['measured']
        expected = f'{row["expected"]:.4g}' + (f' -> {other["expected"]:.4g}' if other['expected'] != row['expected']
                                                else '')
        lines.append(f'{row["quantity"]}: {row["measured"]:.4g} -> {other["measured"]:.4g} {row["unit"]} '
                     f'({delta:+.3g}; expected {expected}; {"pass" if row["pass"] else "FAIL"} -> '
                     f'{"pass" if other["pass"] else "FAIL"})')
    return lines


# -- plots ---------------------------------------------------------------------------------------------------------

def axes(size=(6, 3.5)):
    """A new matplotlib figure and axis for an experiment's plot (no display needed)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt.subplots(figsize=size)


def first_repetition(result):
    """(parameters, the first repetition's measurements) of a result: what notes and plots show."""
    return result['raw']['params'], result['raw']['repetitions'][0]


def hbars(folder, name, bars, xlabel, log=False):
    """A horizontal bar chart, one bar per (label, value, colour), its value in the legend; ``log``: a log axis
    whose bars start a decade below the shortest (so short ones stay visible)."""
    figure, axis = axes()
    for index, (label, value, colour) in enumerate(bars):
        axis.barh(index, value, color=colour, label=f'{label.replace(chr(10), " ")}: {value:.3g}')
    axis.set_yticks(range(len(bars)), [label for label, _, _ in bars], fontsize=8)
    axis.invert_yaxis()
    if log:
        axis.set_xscale('log')
        axis.set_xlim(left=min(value for _, value, _ in bars) / 10)
    return save(figure, axis, folder, name, xlabel, '', legend_size=7)


def save(figure, axis, folder, name, xlabel, ylabel, legend_size=8):
    """Label, lay out and write one plot; returns [its file name] for the report."""
    import matplotlib.pyplot as plt
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.legend(fontsize=legend_size)
    figure.tight_layout()
    figure.savefig(os.path.join(folder, name), dpi=110)
    plt.close(figure)
    return [name]


# -- the registry ------------------------------------------------------------------------------------------------

def registry():
    """{name: Experiment} from experiments/*.py."""
    found = {}
    root = os.path.dirname(EXPERIMENTS_DIR)
    if root not in sys.path:  # experiments import topologies/ and testbed/ from the repository
        sys.path.insert(0, root)
    for filename in sorted(os.listdir(EXPERIMENTS_DIR)):
        if not filename.endswith('.py') or filename.startswith('_'):
            continue
        spec = importlib.util.spec_from_file_location(f'experiments.{filename[:-3]}',
                                                      os.path.join(EXPERIMENTS_DIR, filename))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        experiment = getattr(module, 'EXPERIMENT', None)
        if experiment is not None:
            found[experiment.name] = experiment
    return found


def resolve(name):
    known = registry()
    if name not in known:
        raise TestbedError(f'unknown experiment {name!r} (known: {", ".join(sorted(known))})')
    return known[name]


def _typed(experiment, key, value):
    """An override of the same kind as the default, inside the parameter's declared range."""
    default = experiment.params[key]
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        return value
    low, high, *whole = experiment.ranges[key]
    kind = 'a whole number' if whole else 'a number'
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high or (
            whole and not float(value).is_integer()):
        raise TestbedError(f'experiment {experiment.name!r}: parameter {key}={value!r} must be {kind} from {low:g} '
                           f'to {high:g} (default {default!r})')
    return int(value) if whole else value


def merged_params(experiment, overrides):
    unknown = sorted(set(overrides) - set(experiment.params))
    if unknown:
        raise TestbedError(f'experiment {experiment.name!r} has no parameter {unknown[0]!r} '
                           f'(it takes: {", ".join(sorted(experiment.params)) or "none"})')
    params = {**experiment.params, **{key: _typed(experiment, key, value) for key, value in overrides.items()}}
    if experiment.check:
        experiment.check(params)
    return params


def check_duration(name, seconds, what):
    """Refuse parameters that would make an experiment's traffic run longer than a load test may."""
    if seconds > LOAD_TEST_LIMIT_S:
        raise TestbedError(f'experiment {name!r}: {what} = {seconds:g} s exceeds the {LOAD_TEST_LIMIT_S} s a load '
                           'test may run')


def unranged(experiment):
    """Numeric parameters of an experiment that declare no range (there should be none: a test checks)."""
    return sorted(key for key, value in experiment.params.items()
                  if isinstance(value, (int, float)) and not isinstance(value, bool) and key not in experiment.ranges)


# -- provenance (side effects: commands) -------------------------------------------------------------------------

def _output(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ''


def _module_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # not installed as a distribution
        return None


def git_commit(repo):
    """The checked-out commit (``+dirty`` with uncommitted changes), read with git or, where git is missing (the
    VM stage's guest), from .git itself (``+unchecked``: whether the tree is dirty is then unknown)."""
    commit = _output(['git', '-C', repo, 'rev-parse', 'HEAD'])
    if commit:
        dirty = bool(_output(['git', '-C', repo, 'status', '--porcelain', '--untracked-files=no']))
        return commit + ('+dirty' if dirty else '')
    try:
        with open(os.path.join(repo, '.git', 'HEAD')) as handle:
            head = handle.read().strip()
        if not head.startswith('ref: '):
            return head + '+unchecked'
        ref = head[5:]
        path = os.path.join(repo, '.git', ref)
        if os.path.exists(path):
            with open(path) as handle:
                return handle.read().strip() + '+unchecked'
        with open(os.path.join(repo, '.git', 'packed-refs')) as handle:
            for line in handle:
                if line.strip().endswith(' ' + ref):
                    return line.split()[0] + '+unchecked'
    except OSError:
        pass
    return 'unknown'


def versions():
    import mininet.net
    return {'git_commit': git_commit(os.path.dirname(EXPERIMENTS_DIR)), 'kernel': platform.release(),
            'python': platform.python_version(), 'mininet': getattr(mininet.net, 'VERSION', None),
            'openvswitch': (_output(['ovs-vsctl', '--version']).splitlines() or [''])[0],
            'iperf3': (_output(['iperf3', '--version']).splitlines() or [''])[0],
            'ryu': _module_version('ryu'), 'eventlet': _module_version('eventlet'),
            'scapy': _module_version('scapy')}


def network_state(net):
    """tc qdiscs, flow tables and routes of a running network, as text per node."""
    state = {'qdiscs': {}, 'routes': {}, 'flows': {}}
    for host in net.hosts:
        state['qdiscs'][host.name] = host.cmd('tc -s qdisc show')
        state['routes'][host.name] = host.cmd('ip route show; ip -6 route show')
    for switch in net.switches:
        state['flows'][switch.name] = _output(['ovs-ofctl', '-O', 'OpenFlow13', 'dump-flows', switch.name])
    return state


# -- running -----------------------------------------------------------------------------------------------------

def run(name, overrides=None, results_root='results', seed=1, log=print):
    """Run one experiment; return (folder, result dict)."""
    from testbed.network.net import running
    experiment = resolve(name)
    params = merged_params(experiment, overrides or {})
    quantities = experiment.theory(params)
    topo = experiment.topology(params)
    description = [(a, b, str(p)) for a, b, p in topo.link_params()]
    started = datetime.datetime.now()
    folder = os.path.join(results_root, f'{name}-{started:%Y%m%d-%H%M%S}')
    repetitions = []
    with running(topo, controller=experiment.controller, label=f'exp-{name}', seed=seed) as net:
        paths = {feature: getattr(net.plan, feature) for feature in FEATURES}
        for index in range(experiment.repetitions):
            log(f'experiment {name}: repetition {index + 1} of {experiment.repetitions}')
            repetitions.append(experiment.measure(net, params, index, log))
        state = network_state(net)
    rows = evaluate(quantities, repetitions)
    provenance = {'experiment': name, 'params': params, 'seed': seed, 'started': started.isoformat(),
                  'seconds': round((datetime.datetime.now() - started).total_seconds(), 1),
                  'topology': description, 'hash': params_hash(name, params, description),
                  'paths': paths, 'versions': versions(), 'command': sys.argv, 'network': state}
    result = {'raw': {'experiment': name, 'params': params, 'repetitions': repetitions, 'rows': rows},
              'provenance': provenance}
    os.makedirs(folder, exist_ok=True)  # only once there is something to write
    _write(folder, experiment, result)
    return folder, result


def _write(folder, experiment, result):
    raw, provenance = result['raw'], result['provenance']
    with open(os.path.join(folder, 'raw.json'), 'w') as handle:
        json.dump(raw, handle, indent=1, default=str)
    with open(os.path.join(folder, 'provenance.json'), 'w') as handle:
        json.dump(provenance, handle, indent=1, default=str)
    with open(os.path.join(folder, 'raw.csv'), 'w', newline='') as handle:
        writer = csv.writer(handle)
        writer.writerow(['repetition', 'quantity', 'value'])
        for index, repetition in enumerate(raw['repetitions']):
            for key, value in repetition.items():
                writer.writerow([index, key, value])
    figures = experiment.plot(result, folder) if experiment.plot else []
    lines = [f'# {experiment.title}', '', experiment.model, '',
             f'Parameters: {", ".join(f"{k}={v}" for k, v in raw["params"].items()) or "defaults"}; '
             f'{len(raw["repetitions"])} repetitions; paths: '
             f'{", ".join(f"{k} {v}" for k, v in provenance["paths"].items())}.', '',
             '| quantity | expected | measured (mean ± stdev) | tolerance | |', '|---|---|---|---|---|']
    for row in raw['rows']:
        measured = 'no data' if row['measured'] is None else f'{row["measured"]:.4g} ± {row["stdev"]:.2g}'
        sign = {'max': '≤ ', 'min': '≥ '}.get(row.get('bound', ''), '')
        tolerance = f'± {row["tolerance"]:.3g}' if not sign else (
            f'{"+" if sign == "≤ " else "-"} {row["tolerance"]:.3g}' if row['tolerance'] else 'bound')
        lines.append(f'| {row["quantity"]} | {sign}{row["expected"]:.4g} {row["unit"]} | {measured} {row["unit"]} | '
                     f'{tolerance} | {"pass" if row["pass"] else "FAIL"} |')
    if experiment.notes:
        lines += [''] + experiment.notes(result)
    lines += [''] + [f'![{name}]({name})' for name in figures]
    versions_used = provenance['versions']
    lines += ['', f'Provenance: commit {versions_used["git_commit"]}, kernel {versions_used["kernel"]},'
              f' parameters hash {provenance["hash"]}, seed {provenance["seed"]} (provenance.json; replay with '
              f'`testbed experiment replay {folder}`).']
    with open(os.path.join(folder, 'report.md'), 'w') as handle:
        handle.write('\n'.join(lines) + '\n')


def load_result(folder):
    try:
        with open(os.path.join(folder, 'raw.json')) as raw, open(os.path.join(folder, 'provenance.json')) as prov:
            return {'raw': json.load(raw), 'provenance': json.load(prov)}
    except (OSError, ValueError) as exc:
        raise TestbedError(f'{folder} is not an experiment results folder: {exc}') from None


def summary_line(folder, result):
    rows = result['raw']['rows']
    passed = sum(row['pass'] for row in rows)
    return f'{result["raw"]["experiment"]}: {passed} of {len(rows)} quantities within tolerance -> {folder}/report.md'


def run_command(names, overrides, as_json=False, results_root='results', log=print):
    """``testbed experiment run NAME|all``: run, print a summary (or JSON); exit code 0 when all pass."""
    chosen = sorted(registry()) if names == ['all'] else names
    if len(chosen) > 1 and overrides:
        raise TestbedError('--param applies to one experiment at a time')
    for name in chosen:
        merged_params(resolve(name), overrides)
    outcomes = []
    for position, name in enumerate(chosen, 1):
        log(f'experiment {position} of {len(chosen)}: {name}')
        started = time.monotonic()
        folder, result = run(name, overrides, results_root, log=log)
        outcomes.append((folder, result, time.monotonic() - started))
    if as_json:
        print(json.dumps([{'folder': f, 'rows': r['raw']['rows'], 'seconds': round(s, 1)} for f, r, s in outcomes],
                         indent=1, default=str))
    else:
        for folder, result, _ in outcomes:
            print(summary_line(folder, result))
    return 0 if all(row['pass'] for _, result, _ in outcomes for row in result['raw']['rows']) else 1


def replay(folder, results_root='results', log=print):
    """Run an experiment again from its provenance, then show how the results moved."""
    before = load_result(folder)
    provenance = before['provenance']
    new_folder, after = run(provenance['experiment'], provenance['params'], results_root,
                            seed=provenance.get('seed', 1), log=log)
    print(summary_line(new_folder, after))
    for line in compare_results(before, after):
        print(f'  {line}')
    return 0
