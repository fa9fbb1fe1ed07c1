"""Path choice from capabilities, and the TESTBED_PATH request (no root: fake capabilities)."""
import os

import pytest

from testbed.errors import CapabilityError, TestbedError
from testbed.system.probe import Capabilities, Finding, tool_checks, choose_paths, doctor_report, parse_path_request


def caps(netem=False, sit=False, ovs=False):
    found = {'sch_netem': netem, 'sit': sit, 'openvswitch': ovs}
    result = Capabilities(root=True, kernel='test', cpus=2, timer_late_us={'median': 100.0, 'p99': 200.0})
    result.checks = {name: Finding(name, value, 'found' if value else 'missing') for name, value in found.items()}
    return result


def test_restricted_kernel_uses_userspace_everywhere():
    plan = choose_paths(caps())
    assert (plan.delay, plan.tunnel, plan.datapath) == ('userspace', 'userspace', 'userspace')
    assert 'sch_netem missing' in plan.reason('delay')


def test_full_kernel_uses_kernel_path():
    plan = choose_paths(caps(True, True, True))
    assert (plan.delay, plan.tunnel, plan.datapath) == ('kernel', 'kernel', 'kernel')


def test_userspace_can_be_forced_on_a_full_kernel():
    plan = choose_paths(caps(True, True, True), parse_path_request('userspace'))
    assert plan.delay == 'userspace' and 'forced' in plan.reason('delay')
    plan = choose_paths(caps(True, True, True), parse_path_request('delay=userspace'))
    assert (plan.delay, plan.tunnel, plan.datapath) == ('userspace', 'kernel', 'kernel')


def test_forcing_a_missing_kernel_feature_is_an_error():
    with pytest.raises(CapabilityError, match='sch_netem is missing'):
        choose_paths(caps(), parse_path_request('kernel'))


@pytest.mark.parametrize('text', ['fast', 'delay', 'delay=quick', 'speed=kernel'])
def test_bad_path_request(text):
    with pytest.raises(TestbedError, match='TESTBED_PATH'):
        parse_path_request(text)


def test_auto_request_is_empty():
    assert parse_path_request(None) == {} and parse_path_request('auto') == {}
    assert parse_path_request('delay=auto,datapath=kernel') == {'datapath': 'kernel'}


def test_doctor_report_names_each_feature_and_path():
    report = doctor_report(caps(netem=True), choose_paths(caps(netem=True)))
    assert 'sch_netem' in report and 'delay     kernel' in report and 'tunnel    userspace' in report
    assert 'TESTBED_PATH' in report


def test_tools_in_sbin_are_found_without_sbin_on_path_and_ovs_is_not_asked_without_root(tmp_path, monkeypatch):
    fake_sbin_tool = tmp_path / 'tc'
    fake_sbin_tool.write_text('#!/bin/sh\n')
    fake_sbin_tool.chmod(0o755)
    monkeypatch.setenv('PATH', str(tmp_path))
    checks = tool_checks(root=False)
    assert checks['tc'].found and checks['tc'].detail == str(fake_sbin_tool)
    assert checks['ethtool'].found == any(os.access(f'{folder}/ethtool', os.X_OK)
                                          for folder in ('/usr/local/sbin', '/usr/sbin', '/sbin'))
    assert not checks['ovs_running'].found and 'needs root' in checks['ovs_running'].detail
