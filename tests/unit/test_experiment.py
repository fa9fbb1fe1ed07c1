"""The experiment framework's pure parts: comparison against theory, result diffs, the registry."""
from testbed.reports.experiment import Quantity, compare_results, evaluate, params_hash, registry


def test_evaluate_compares_the_mean_with_the_expected_value():
    quantities = [Quantity('rtt', 20.0, 'ms', absolute=0.3, relative=0.02), Quantity('mss', 1408, 'B'),
                  Quantity('missing', 1.0, '')]
    rows = evaluate(quantities, [{'rtt': 20.2, 'mss': 1408}, {'rtt': 20.6, 'mss': 1408}])
    rtt, mss, missing = rows
    assert rtt['measured'] == 20.4 and rtt['tolerance'] == 0.4 and rtt['pass'] and rtt['n'] == 2
    assert mss['pass'] and mss['tolerance'] == 0
    assert missing['measured'] is None and not missing['pass']  # no data is never a pass
    assert not evaluate([Quantity('rtt', 20.0, 'ms', absolute=0.3)], [{'rtt': 20.31}])[0]['pass']


def test_one_sided_bounds():
    outage = Quantity('outage', 0.0, 'ms', absolute=100.0, bound='max')
    ratio = Quantity('ratio', 100.0, '', bound='min')
    assert outage.accepts(0) and outage.accepts(100) and not outage.accepts(100.1) and outage.accepts(-5)
    assert ratio.accepts(1e6) and ratio.accepts(100) and not ratio.accepts(99.9)
    rows = evaluate([outage, ratio], [{'outage': 40, 'ratio': 5000}])
    assert all(row['pass'] for row in rows) and rows[0]['bound'] == 'max'


def test_compare_names_what_moved():
    def result(bw, kernel, measured):
        rows = evaluate([Quantity('ratio', 0.972, '', relative=0.02)], [{'ratio': measured}])
        return {'raw': {'rows': rows}, 'provenance': {'params': {'bw': bw}, 'versions': {'kernel': kernel},
                                                      'paths': {'tunnel': 'userspace'}}}
    lines = compare_results(result(100, '6.1', 0.970), result(50, '6.18', 0.930))
    assert 'params.bw: 100 -> 50' in lines and 'versions.kernel: 6.1 -> 6.18' in lines
    assert any(line.startswith('ratio: 0.97 -> 0.93') and 'pass -> FAIL' in line for line in lines)
    assert compare_results(result(1, 'k', 0.97), result(1, 'k', 0.97))[0] == 'same parameters, versions and paths'


def test_hash_follows_parameters_and_registry_lists_the_experiments():
    assert params_hash('x', {'bw': 1}, []) != params_hash('x', {'bw': 2}, [])
    assert params_hash('x', {'bw': 1}, []) == params_hash('x', {'bw': 1}, [])
    known = registry()
    assert {'forwarding-table', 'sixtofour'} <= set(known)
    for experiment in known.values():
        quantities = experiment.theory(experiment.params)
        assert quantities and all(q.unit is not None for q in quantities)


def test_packet_delay_theory_has_the_lectures_shape():
    packet_delay = registry()['packet-delay']
    expected = {q.name: q.expected for q in packet_delay.theory(packet_delay.params)}
    # L/R + d with L the bytes on the wire. 24 B: one 66-byte frame, 0.05 ms at 10 Mb/s and 0.53 ms at 1 Mb/s on top
    # of 10 ms vs 1 ms (propagation dominates); 10,000 B: seven frames, 10,246 bytes: 8.20 ms + 10 ms = 18.20 ms
    # vs 81.97 ms + 1 ms = 82.97 ms (the lecture's ~18 and ~81, which leave the headers out)
    assert round(expected['Link-1 24 B one-way delay'], 4) == 10.0528
    assert round(expected['Link-2 24 B one-way delay'], 3) == 1.528
    assert round(expected['Link-1 10000 B one-way delay'], 3) == 18.197
    assert round(expected['Link-2 10000 B one-way delay'], 3) == 82.968
    assert expected['Link-2 10000 B one-way delay'] > 3.5 * expected['Link-1 10000 B one-way delay']


def test_git_commit_without_git_reads_the_repository(tmp_path, monkeypatch):
    import testbed.reports.experiment as experiment
    monkeypatch.setattr(experiment, '_output', lambda cmd: '')  # as in the VM guest: no git binary
    (tmp_path / '.git' / 'refs' / 'heads').mkdir(parents=True)
    (tmp_path / '.git' / 'HEAD').write_text('ref: refs/heads/main\n')
    assert experiment.git_commit(str(tmp_path)) == 'unknown'
    (tmp_path / '.git' / 'packed-refs').write_text('# pack-refs\nabc123 refs/heads/main\n')
    assert experiment.git_commit(str(tmp_path)) == 'abc123+unchecked'
    (tmp_path / '.git' / 'refs' / 'heads' / 'main').write_text('def456\n')
    assert experiment.git_commit(str(tmp_path)) == 'def456+unchecked'
