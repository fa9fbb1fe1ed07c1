"""testbed bench scale's arithmetic: grid distances and which targets apply to a case."""
from testbed.reports.benchscale import grid_distance, verdicts


def test_grid_distance_counts_links_between_switches():
    assert grid_distance(1, 1, 23) == 0
    assert grid_distance(253, 1, 23) == 10 + 22     # row 10, column 22 of a 22 x 23 grid, to the first corner
    assert grid_distance(50, 1, 100) == 49          # a 1 x 100 chain from its middle


def test_the_ratios_apply_at_linear_100_and_memory_from_50_links():
    ours = {'ping': True, 'up_s': 12.0, 'stop_s': 16.0, 'mb_per_shaped_link': 0.2, 'delay_line_links': 99}
    plain = {'ping': True, 'up_s': 10.0, 'stop_s': 10.0}
    assert verdicts('linear,100', plain, ours) == {'ping': True, 'up': True, 'stop': False, 'memory per link': True}
    assert verdicts('linear,10', plain, {**ours, 'delay_line_links': 9}) == {'ping': True}
    assert verdicts('grid 22x23', {'ping': None}, {**ours, 'ping': False, 'delay_line_links': 967}) \
        == {'ping': False, 'memory per link': True}
