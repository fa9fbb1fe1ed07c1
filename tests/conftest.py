"""Shared pytest setup: the data-plane paths under test are printed in the header of every run."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def pytest_report_header(config):
    del config
    try:
        from testbed.system.probe import FEATURES, current_plan
        plan = current_plan()
    except Exception as exc:  # the header must never break the run
        return [f'testbed paths: unknown ({exc})']
    lines = ['testbed data-plane paths on this machine (TESTBED_PATH=%s):' % os.environ.get('TESTBED_PATH', 'auto')]
    for feature in FEATURES:
        lines.append(f'  {feature:<9} {plan.path(feature):<9} {plan.reason(feature)}')
    return lines
