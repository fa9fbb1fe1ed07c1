"""The experiment framework end to end: run, results folder with provenance, compare, and the lecture's numbers."""
import json
import os

import pytest

from testbed.reports import experiment


@pytest.mark.host_only('the results folder is the same on every path; the VM stage checks the star table on the '
                        'kernel datapath (test_control_plane)')
def test_forwarding_table_experiment_writes_a_complete_results_folder(tmp_path):
    folder, result = experiment.run('forwarding-table', results_root=str(tmp_path), log=lambda message: None)
    for row in result['raw']['rows']:
        print(f'{row["quantity"]}: measured {row["measured"]}, expected {row["expected"]} +- {row["tolerance"]}')
    assert all(row['pass'] for row in result['raw']['rows'])
    assert sorted(os.listdir(folder)) == ['forwarding-table.png', 'provenance.json', 'raw.csv', 'raw.json',
                                          'report.md']
    with open(os.path.join(folder, 'provenance.json')) as handle:
        provenance = json.load(handle)
    assert provenance['versions']['git_commit'] and provenance['paths']['datapath'] in ('kernel', 'userspace')
    assert 's1' in provenance['network']['flows'] and 'src' in provenance['network']['routes']
    assert experiment.compare_results(result, experiment.load_result(folder))[0] == \
        'same parameters, versions and paths'


@pytest.mark.host_only('medians of 10 probes against a 1.5 ms band under an emulated CPU: CI failed it twice in a '
                        'row on a busy host; the VM checks netem delay and rate in test_link_fidelity')
@pytest.mark.remeasure('medians of 10 probes per size, each 0.4 ms wide')
def test_packet_delay_matches_transmission_plus_propagation(tmp_path):
    folder, result = experiment.run('packet-delay', {'probes': 10}, results_root=str(tmp_path),
                                    log=lambda message: None)
    for row in result['raw']['rows']:
        print(f'{row["quantity"]}: measured {row["measured"]:.3f} ms, expected {row["expected"]:.3f} '
              f'+- {row["tolerance"]:.3f} ms')
    assert os.path.exists(os.path.join(folder, 'packet-delay.png'))
    assert all(row['pass'] for row in result['raw']['rows'])


@pytest.mark.host_only('the VM stage measures the same goodput ratio over kernel sit (test_sixtofour_goodput)')
@pytest.mark.remeasure('a 2 % goodput ratio: a busy neighbour moves one run')
def test_sixtofour_experiment_within_tolerance(tmp_path):
    from experiments.sixtofour import BASELINE_ROW
    from testbed.reports.demo6to4 import ratio_core_rate
    bw, _ = ratio_core_rate()  # the fastest core that leaves neither path CPU-bound
    folder, result = experiment.run('sixtofour', {'seconds': 3, 'bw': bw}, results_root=str(tmp_path),
                                    log=lambda message: None)
    rows = {row['quantity']: row for row in result['raw']['rows']}
    for row in rows.values():
        print(f'{row["quantity"]}: measured {row["measured"]}, expected {row["expected"]} +- {row["tolerance"]}')
    if not rows[BASELINE_ROW]['pass']:
        pytest.skip(f'the IPv4 baseline carried {rows[BASELINE_ROW]["measured"]:.1%} of its theory: the machine '
                    'held it back, so the goodput ratio would mean nothing')
    assert all(row['pass'] for row in rows.values())


def _print_and_check(result):
    for row in result['raw']['rows']:
        bound = {'max': 'at most ', 'min': 'at least '}.get(row.get('bound'), '')
        print(f'{row["quantity"]}: measured {row["measured"]:.4g}, expected {bound}{row["expected"]:.4g} '
              f'+- {row["tolerance"]:.3g}')
    failed = [row['quantity'] for row in result['raw']['rows'] if not row['pass']]
    assert not failed, failed


@pytest.mark.host_only('16 paced Python sources: under CPU emulation their timers slip by whole slots')
def test_statistical_multiplexing_experiment(tmp_path):
    folder, result = experiment.run('statistical-multiplexing', {'counts': '1,4,16'}, results_root=str(tmp_path),
                                    log=lambda message: None)
    assert os.path.exists(os.path.join(folder, 'multiplexing.png'))
    _print_and_check(result)


@pytest.mark.host_only('a 12 Mb/s paced flood from Python: more than an emulated CPU sends on time')
def test_circuit_vs_packet_experiment(tmp_path):
    folder, result = experiment.run('circuit-vs-packet', {'calls': 300}, results_root=str(tmp_path),
                                    log=lambda message: None)
    assert os.path.exists(os.path.join(folder, 'blocking.png'))
    _print_and_check(result)


@pytest.mark.host_only('compares per-packet with per-event times; CPU emulation inflates both unevenly')
def test_control_vs_data_plane_experiment(tmp_path):
    folder, result = experiment.run('control-vs-data-plane', results_root=str(tmp_path), log=lambda message: None)
    assert os.path.exists(os.path.join(folder, 'control-vs-data.png'))
    _print_and_check(result)


@pytest.mark.host_only("runs an experiment three times; the VM stage runs each experiment once")
def test_replay_reproduces_and_compare_shows_a_parameter_change(tmp_path):
    folder, first = experiment.run('pipe', {'seconds': 3}, results_root=str(tmp_path), log=lambda message: None)
    assert experiment.replay(folder, str(tmp_path), log=lambda message: None) == 0
    replayed = [name for name in os.listdir(tmp_path) if name.startswith('pipe-') and name != os.path.basename(folder)]
    assert len(replayed) == 1
    again = experiment.load_result(os.path.join(str(tmp_path), replayed[0]))
    rtt = {r['quantity']: r for r in first['raw']['rows']}['RTT (ms)']
    rtt_again = {r['quantity']: r for r in again['raw']['rows']}['RTT (ms)']
    print(f'replay: RTT {rtt["measured"]:.3f} -> {rtt_again["measured"]:.3f} ms (tolerance {rtt["tolerance"]:.2f})')
    assert rtt_again['pass'] and again['provenance']['params'] == first['provenance']['params']
    _, changed = experiment.run('pipe', {'seconds': 3, 'delay_ms': 5}, results_root=str(tmp_path),
                                log=lambda message: None)
    lines = experiment.compare_results(first, changed)
    print('\n'.join(lines))
    assert 'params.delay_ms: 10 -> 5' in lines
