"""The VM stage's report on a guest that died without writing its test result (files only, no QEMU)."""
from testbed.vm.stage import died_report


def test_a_dead_guest_is_reported_with_the_cause_its_console_names(tmp_path):
    noise = [f'[   30.{n:06d}] R{n:02d}: 0000000000000000' for n in range(40)]
    (tmp_path / 'console.log').write_text('\n'.join(
        ['testbed-vm: running: pytest tests/integration',
         '[   29.900000] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009', *noise]) + '\n')
    (tmp_path / 'pytest.log').write_text('tests/integration/test_sixtofour.py::test_traceroute_shows_the_tunnel \n')
    report = died_report(str(tmp_path), 0, 41.2)
    assert 'QEMU exited with status 0 after 41 s' in report
    assert 'Attempted to kill init' in report, 'the cause scrolled out of the last lines must still be shown'
    assert noise[-1] in report and noise[0] not in report
    assert report.rstrip().endswith('test_traceroute_shows_the_tunnel'), 'the test that was running comes last'


def test_a_guest_that_left_nothing_is_reported_as_such(tmp_path):
    report = died_report(str(tmp_path), -9, 3)
    assert 'status -9' in report and report.count('(none)') == 3
