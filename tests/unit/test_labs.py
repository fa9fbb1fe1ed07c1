"""Labs without a network: per-student parameters, starting a lab, running student code safely, pure checks."""
import importlib.util
import json
import os

import pytest

from testbed.reports import labs
from testbed.errors import TestbedError

LABS = labs.registry()


def grader_module(number):
    lab = LABS[number]
    spec = importlib.util.spec_from_file_location(f'grader{number}', os.path.join(lab.folder, 'grader.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_five_labs_each_with_handout_starter_solution():
    assert sorted(LABS) == [1, 2, 3, 4, 5]
    for lab in LABS.values():
        for part in ('handout.md', os.path.join('starter', lab.student_file),
                     os.path.join('solution', lab.student_file)):
            assert os.path.exists(os.path.join(lab.folder, part)), (lab.number, part)
        with open(os.path.join(lab.folder, 'handout.md')) as handle:
            assert handle.read().startswith(f'# Lab {lab.number} ')


@pytest.mark.parametrize('number', [1, 2, 3, 4, 5])
def test_parameters_are_deterministic_and_differ_per_student_and_secret(number):
    lab = LABS[number]
    alice = labs.student_params(lab, 'alice', 's3cret')
    assert alice == labs.student_params(lab, 'alice', 's3cret')
    assert alice != labs.student_params(lab, 'bob', 's3cret')
    assert alice != labs.student_params(lab, 'alice', 'other secret')
    json.dumps(alice)  # params.json must hold them


def test_a_student_id_is_required():
    with pytest.raises(TestbedError, match='student id'):
        labs.student_params(LABS[1], ' ', 'x')


def test_handout_placeholders_are_filled_and_unknown_ones_kept():
    assert labs.render('rate {a} Mb/s, {b}, {unknown}', {'a': 2.5, 'b': 'x'}) == 'rate 2.5 Mb/s, x, {unknown}'


def test_start_writes_the_starter_params_and_a_personal_handout(tmp_path):
    folder = labs.start(1, 'alice', str(tmp_path / 'w'), log=lambda message: None)
    assert sorted(os.listdir(folder)) == ['answers.py', 'handout.md', 'params.json']
    params = json.load(open(os.path.join(folder, 'params.json')))['params']
    handout = open(os.path.join(folder, 'handout.md')).read()
    assert f'| A | {params["a_rate_mbps"]} Mb/s | {params["a_delay_ms"]} ms |' in handout and '{' not in \
        handout.split('## Tasks')[0]
    with pytest.raises(TestbedError, match='already exists'):
        labs.start(1, 'alice', folder, log=lambda message: None)
    with pytest.raises(TestbedError, match='unknown lab'):
        labs.start(9, 'alice', str(tmp_path / 'x'), log=lambda message: None)


@pytest.mark.parametrize('body, words', [
    ('def f(x):\n    return x * 2\n', None),
    ('def f(x):\n    raise NotImplementedError\n', 'not written yet'),
    ('def f(x):\n    return 1 / 0\n', 'ZeroDivisionError'),
    ('def f(x):\n    while True:\n        pass\n', 'did not return within'),
    ('import sys\ndef f(x):\n    sys.exit(3)\n', 'stopped the program'),
    ('def f(x):\n    return object()\n', 'not plain data'),
    ('def f(:\n', 'SyntaxError'),
])
def test_student_code_runs_apart_with_a_time_limit(tmp_path, body, words):
    path = tmp_path / 'student.py'
    path.write_text(body)
    value, error = labs.call_student(str(path), 'f', 21, timeout=3)
    if words is None:
        assert (value, error) == (42, None)
    else:
        assert value is None and words in error, error


def test_reading_a_value_of_a_broken_file_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / 'student.py'
    path.write_text('X = {"a": 1}\n')
    assert labs.read_student_value(str(path), 'X') == ({'a': 1}, None)
    path.write_text('raise RuntimeError("boom")\n')
    value, error = labs.read_student_value(str(path), 'X')
    assert value is None and 'RuntimeError: boom' in error


def _pure_points(number, folder, params):
    """Grade only the checks that need no network (the graders skip live parts when these fail)."""
    module = grader_module(number)
    path = os.path.join(folder, LABS[number].student_file)
    if number == 2:
        checks = [module._check_graph(path, name, graph, hint) for name, graph, hint in
                  [('example', module.EXAMPLE, '')] + module.hidden_topologies(params['seed'])]
    elif number == 4:
        checks = [module._admit_check(path), module._blocking_check(path, params, lambda message: None)]
    else:
        raise AssertionError(number)
    return checks


@pytest.mark.parametrize('number', [2, 4])
@pytest.mark.parametrize('student', ['alice', 'bob'])
def test_reference_gets_full_pure_marks_and_starter_does_not(tmp_path, number, student):
    lab = LABS[number]
    params = labs.student_params(lab, student, 'course')
    reference = _pure_points(number, os.path.join(lab.folder, 'solution'), params)
    assert all(check.passed for check in reference), [c for c in reference if not c.passed]
    starter = _pure_points(number, os.path.join(lab.folder, 'starter'), params)
    assert not any(check.passed for check in starter)
    assert all('not written yet' in check.feedback for check in starter if check.name != 'blocking of your '
               'admission vs Erlang-B')


def test_lab3_router_configuration_feedback_names_the_wrong_field():
    module = grader_module(3)
    params = {'r1': '192.0.2.7', 'r2': '198.51.100.9'}
    good = {'lan_prefix': '2002:c000:207:1::/64', 'router_address': '2002:c000:207:1::1',
            'host_address': '2002:c000:207:1::10', 'tunnel_mtu': 1480, 'default_via': '2002:c058:6301::1'}
    check, usable = module._router_check(good, params)
    assert check.passed and usable
    check, usable = module._router_check(dict(good, tunnel_mtu=1500), params)
    assert not check.passed and 'tunnel_mtu is 1500' in check.feedback and usable
    check, usable = module._router_check(None, params)
    assert not check.passed and not usable


def test_lab1_formula_checks_on_the_reference_and_starter(tmp_path):
    module = grader_module(1)
    for folder, passes in (('solution', True), ('starter', False)):
        path = os.path.join(LABS[1].folder, folder, 'answers.py')
        check = module._formula_check(path, 'x', 'packet_delay_ms', module.HIDDEN,
                                      [c[0] * 8 / c[1] * 1e3 + c[2] for c in module.HIDDEN], 'explain')
        assert check.passed == passes, check


def test_report_and_score():
    checks = [labs.Check('a', 2, 2, 'ok'), labs.Check('b', 3, 1.5, 'half')]
    result = labs.report(LABS[1], 'alice', checks)
    assert (result['score'], result['possible']) == (3.5, 5)
    assert result['checks'][1] == {'name': 'b', 'points': 3, 'earned': 1.5, 'passed': False, 'feedback': 'half'}
    text = labs.format_report(result)
    assert text.splitlines()[0].endswith('3.5 / 5') and '[part] b' in text


def test_lab5_ce_configuration_feedback_names_the_wrong_field():
    module = grader_module(5)
    params = {'prefix': '2001:db8:6000::/40', 'v4_common': 16}
    good = {'delegated_prefix': '2001:db8:6001:100::/56', 'lan_prefix': '2001:db8:6001:101::/64',
            'router_address': '2001:db8:6001:101::1', 'host_address': '2001:db8:6001:101::10',
            'tunnel_address': '2001:db8:6001:100::1/40', 'default_via': '::10.64.0.1'}
    check, usable = module._ce_check(good, params)
    assert check.passed and usable
    check, usable = module._ce_check(dict(good, tunnel_address='2001:db8:6001:100::1/56'), params)
    assert not check.passed and 'tunnel_address is' in check.feedback and usable
    check, usable = module._ce_check(None, params)
    assert not check.passed and not usable


def test_lab5_parameters_always_leave_room_for_lans():
    import random
    module = grader_module(5)
    for seed in range(200):
        params = module.parameters(random.Random(seed))
        assert module.domain(params).delegated_prefix('10.64.1.1').prefixlen <= 60, params
