"""Every lab's grader on its reference solution (full marks) and on the untouched starter (not full marks, with
feedback naming what is missing), for two students with different parameters; grading leaves nothing behind."""
import os
import re
import shutil
import time

import pytest

from testbed.reports import labs
from testbed.system.runstate import list_runs

STUDENTS = ('alice', 'bob')
pytestmark = pytest.mark.host_only('grades with live networks several times; the VM stage covers the same '
                                   'components through their own tests')


def _bridges():
    import subprocess
    return set(subprocess.run(['ovs-vsctl', 'list-br'], capture_output=True, text=True).stdout.split())


def _workdir(tmp_path, number, student, which):
    folder = labs.start(number, student, str(tmp_path / f'{which}-{number}-{student}'), log=lambda message: None)
    if which == 'solution':
        lab = labs.resolve(number)
        shutil.copy(os.path.join(lab.folder, 'solution', lab.student_file), folder)
    return folder


def _fill_lab1_measurements(folder, params):
    """What a student does for task 3: measure both links on the testbed and write the numbers down."""
    rtt, goodput = labs.resolve(1).module.measure_links(params, lambda message: None)
    path = os.path.join(folder, 'answers.py')
    text = open(path).read()
    text = re.sub(r"'link_a_rtt_ms': None", f"'link_a_rtt_ms': {rtt:.3f}", text)
    text = re.sub(r"'link_b_goodput_mbps': None", f"'link_b_goodput_mbps': {goodput:.3f}", text)
    open(path, 'w').write(text)


@pytest.mark.parametrize('number', [1, 2, 3, 4, 5])
def test_reference_gets_full_marks_and_the_starter_does_not(tmp_path, number):
    bridges_before, runs_before = _bridges(), list_runs()
    seen_params = []
    for student in STUDENTS:
        lab = labs.resolve(number)
        params = labs.student_params(lab, student)
        seen_params.append(params)
        folder = _workdir(tmp_path, number, student, 'solution')
        if number == 1:
            _fill_lab1_measurements(folder, params)
        started = time.monotonic()
        result = labs.grade(number, student, folder, log=print)
        seconds = time.monotonic() - started
        print(labs.format_report(result))
        print(f'lab {number}, {student}: graded in {seconds:.1f} s')
        assert result['score'] == result['possible'], labs.format_report(result)
        assert seconds < 180
        starter = labs.grade(number, student, _workdir(tmp_path, number, student, 'starter'), log=print)
        print(labs.format_report(starter))
        assert starter['score'] < starter['possible']
        missing = [check for check in starter['checks'] if not check['passed']]
        assert missing and all(check['feedback'] for check in missing)
        assert any('not written yet' in check['feedback'] or 'not filled in' in check['feedback']
                   for check in missing)
    assert seen_params[0] != seen_params[1]
    assert _bridges() == bridges_before and list_runs() == runs_before


@pytest.mark.parametrize('failure, words', [
    ('raise RuntimeError("crash in the controller")', 'crash in the controller'),
    ('while True:\n            pass', 'not ready after'),
])
def test_student_code_that_fails_inside_the_controller_costs_its_checks_only(tmp_path, failure, words):
    """Lab 2: a routing function that passes the offline checks but crashes or hangs in the controller."""
    folder = _workdir(tmp_path, 2, 'carol', 'solution')
    path = os.path.join(folder, 'my_routing.py')
    with open(path, 'a') as handle:
        handle.write('\n\nimport os as _os\n_offline = next_hops\n\n\ndef next_hops(graph, source):\n'
                     f'    if _os.environ.get("TESTBED_PLAN"):\n        {failure}\n'
                     '    return _offline(graph, source)\n')
    bridges_before, runs_before = _bridges(), list_runs()
    started = time.monotonic()
    result = labs.grade(2, 'carol', folder, log=print)
    print(labs.format_report(result))
    live = [check for check in result['checks'] if 'pingall' in check['name']][0]
    assert not live['passed'] and words in live['feedback']
    assert result['score'] == 6  # the offline checks still count
    assert time.monotonic() - started < 120
    assert _bridges() == bridges_before and list_runs() == runs_before
