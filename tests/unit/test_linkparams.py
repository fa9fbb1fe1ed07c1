"""Link parameters: validation, semantics and the tc plan for each path."""
import json

import pytest

from testbed.errors import TestbedError
from testbed.link.params import (DEFAULT_QUEUE, LinkParams, check_path, delay_line_direction, direction_seeds,
                                line_spec, rate_change_command, tc_commands)


def test_defaults_and_conversion():
    params = LinkParams.from_options({'bw': 10, 'delay': '5ms', 'jitter': '1ms', 'loss': '1%'})
    assert params.bw == 10e6 and params.delay == 0.005 and params.jitter == 0.001 and params.loss == 1.0
    assert params.max_queue_size == DEFAULT_QUEUE
    assert params.needs_delay
    assert not LinkParams.from_options({'bw': 10}).needs_delay
    assert LinkParams.from_options({'loss': 1}).needs_delay


@pytest.mark.parametrize('options, words', [
    ({'bw': 0}, 'bandwidth 0 Mb/s must be above 0'),
    ({'bw': -5}, 'must be above 0'),
    ({'bw': '20Gbit'}, 'at most 10 Gb/s'),
    ({'bw': '100bit'}, 'too small'),
    ({'delay': -1}, 'delay -1 ms must be between'),
    ({'delay': '20s'}, 'must be between 0 and 10000 ms'),
    ({'delay': '3furlongs'}, "unknown unit 'furlongs'"),
    ({'delay': '5ms', 'jitter': '6ms'}, 'jitter 6 ms exceeds delay 5 ms'),
    ({'loss': 120}, 'loss 120% must be between 0 and 100%'),
    ({'loss': -1}, 'must be between 0 and 100%'),
    ({'max_queue_size': 2.5}, 'not a whole number'),
    ({'max_queue_size': 0}, 'must be 1..1000000'),
    ({'corrupt': 1}, "unknown link parameter 'corrupt'"),
])
def test_bad_parameters_are_errors(options, words):
    with pytest.raises(TestbedError, match=words):
        LinkParams.from_options(options, where='link h1-s1')


def test_error_names_the_link():
    with pytest.raises(TestbedError, match='^link s1-s2: '):
        LinkParams.from_options({'bw': 0}, where='link s1-s2')


def test_kernel_plan_is_htb_with_netem_leaf():
    params = LinkParams.from_options({'bw': 10, 'delay': '10ms', 'jitter': '1ms', 'loss': 2})
    cmds = tc_commands('h1-eth0', params, 'kernel')
    assert cmds[0] == 'tc qdisc add dev h1-eth0 root handle 5: htb default 1'
    assert 'htb rate 10000000bit' in cmds[1]
    assert cmds[2].startswith('tc qdisc add dev h1-eth0 parent 5:1 handle 10: netem limit ')
    assert 'delay 10000us 1000us' in cmds[2] and 'loss 2%' in cmds[2]
    limit = int(cmds[2].split('limit ')[1].split()[0])
    assert limit == params.max_queue_size + params.inflight_limit


def test_userspace_plan_keeps_htb_and_leaves_delay_to_the_delay_line():
    params = LinkParams.from_options({'bw': 10, 'delay': '10ms', 'max_queue_size': 50})
    cmds = tc_commands('s1-eth2', params, 'userspace')
    assert len(cmds) == 3
    assert not any('netem' in cmd for cmd in cmds)
    assert cmds[2] == 'tc qdisc add dev s1-eth2 parent 5:1 handle 10: pfifo limit 50'
    direction = delay_line_direction(params, seed=7)
    assert direction == {'delay': 0.01, 'jitter': 0.0, 'loss': 0.0, 'limit': params.inflight_limit, 'seed': 7,
                         'rate': 10e6}


def test_a_link_with_rate_and_delay_serialises_each_frame_on_both_paths():
    params = LinkParams.from_options({'bw': 1, 'delay': '1ms'})
    assert params.serialized and params.needs_delay
    assert tc_commands('h1-eth0', params, 'kernel')[2].endswith(' delay 1000us rate 1000000bit')
    assert delay_line_direction(params, seed=1)['rate'] == 1e6


def test_serialisation_is_asked_for_or_turned_off():
    rate_only = LinkParams.from_options({'bw': 1})
    assert not rate_only.serialized and not rate_only.needs_delay  # HTB alone: no netem, no delay line
    forced = LinkParams.from_options({'bw': 1, 'serialize': 'true'})
    assert forced.serialized and forced.needs_delay
    assert tc_commands('h1-eth0', forced, 'kernel')[2].endswith(' rate 1000000bit')
    assert 'serialized' in forced.describe()
    off = LinkParams.from_options({'bw': 1, 'delay': '1ms', 'serialize': False})
    assert not off.serialized and 'rate' not in tc_commands('h1-eth0', off, 'kernel')[2]
    assert delay_line_direction(off, seed=1)['rate'] == 0.0
    with pytest.raises(TestbedError, match='serialize needs a bandwidth'):
        LinkParams.from_options({'delay': '1ms', 'serialize': True})
    with pytest.raises(TestbedError, match='must be true or false'):
        LinkParams.from_options({'bw': 1, 'serialize': 'maybe'})


def test_both_htb_buckets_hold_the_burst():
    assert 'burst 15000b cburst 15000b' in tc_commands('h1-eth0', LinkParams.from_options({'bw': 10}), 'kernel')[1]


def test_netem_without_rate_is_root_qdisc():
    cmds = tc_commands('h1-eth0', LinkParams.from_options({'delay': 1}), 'kernel')
    assert len(cmds) == 1 and ' root handle 10: netem ' in cmds[0]


def test_unshaped_link_needs_no_qdisc():
    assert tc_commands('h1-eth0', LinkParams(), 'kernel') == []
    assert tc_commands('h1-eth0', LinkParams(), 'userspace') == []


def test_inflight_allowance_covers_the_pipe():
    params = LinkParams.from_options({'bw': 100, 'delay': '50ms'})
    # 100 Mb/s x 50 ms = 625 kB = 9766 minimum-size frames
    assert params.inflight_limit == 9766
    assert LinkParams.from_options({'bw': 1, 'delay': '1ms'}).inflight_limit == 1000


def test_userspace_path_refuses_rates_it_cannot_carry():
    fast = LinkParams.from_options({'bw': 2000, 'delay': '1ms'})
    with pytest.raises(TestbedError, match='delay line ceiling'):
        check_path(fast, 'userspace')
    check_path(fast, 'kernel')
    check_path(LinkParams.from_options({'bw': 2000}), 'userspace')  # no delay line involved


def test_describe():
    params = LinkParams.from_options({'bw': 10, 'delay': '5ms', 'jitter': '1ms', 'loss': 1})
    assert params.describe() == '10 Mb/s, 5 ms ± 1 ms, loss 1%'


def test_burst_sets_a_one_frame_bucket_and_needs_a_rate():
    from testbed.errors import TestbedError
    from testbed.link.params import LinkParams, tc_commands
    params = LinkParams.from_options({'bw': 1, 'delay': '1ms', 'burst': '1514'})
    assert params.burst == 1514
    assert 'burst 1514b cburst 1514b' in tc_commands('h1-eth0', params, 'kernel')[1]
    assert 'burst 15000b quantum' in tc_commands('h1-eth0', LinkParams.from_options({'bw': 1}), 'kernel')[1]
    for options, words in (({'burst': 1514}, 'needs a bandwidth'), ({'bw': 1, 'burst': 100}, 'at least one full'),
                           ({'bw': 1, 'burst': 'big'}, 'not a whole number')):
        with pytest.raises(TestbedError, match=words):
            LinkParams.from_options(options)


def test_rate_change_keeps_the_bucket_and_refuses_unshaped_links():
    params = LinkParams.from_options({'bw': 10, 'burst': 1514})
    assert rate_change_command('s1-eth100', params, 4e6) == (
        'tc class change dev s1-eth100 parent 5: classid 5:1 htb rate 4000000bit burst 1514b cburst 1514b '
        'quantum 65536')
    with pytest.raises(TestbedError, match='no bandwidth set'):
        rate_change_command('x', LinkParams(), 1e6)
    with pytest.raises(TestbedError, match='must be above 0'):
        rate_change_command('x', params, 0)


def test_the_deletion_group_is_one_no_interface_is_in():
    from testbed.link.shaped import FIRST_DELETION_GROUP, unused_link_group
    shown = json.dumps([{'ifname': 'lo', 'group': 'default'}, {'ifname': 'eth0', 'group': FIRST_DELETION_GROUP},
                        {'ifname': 'x', 'group': FIRST_DELETION_GROUP + 1}])
    assert unused_link_group(shown) == FIRST_DELETION_GROUP + 2
    assert unused_link_group('not json') == FIRST_DELETION_GROUP


def test_a_delay_line_spec_gives_each_direction_its_parameters_and_its_own_seed():
    slow, fast = LinkParams.from_options({'delay': '5ms'}), LinkParams.from_options({'delay': '1ms', 'loss': 2})
    seeds = direction_seeds(3, 7)
    assert seeds == (3007, 3507)
    spec = line_spec('dl7', ('dl7a', 'dl7b'), slow, fast, seeds)
    assert (spec['key'], spec['a'], spec['b']) == ('dl7', 'dl7a', 'dl7b')
    assert spec['a_to_b'] == delay_line_direction(slow, 3007) and spec['b_to_a'] == delay_line_direction(fast, 3507)
