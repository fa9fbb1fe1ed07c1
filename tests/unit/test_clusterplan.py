"""The cluster's pure planning: fake servers' addresses and configuration, the doctor's verdicts."""
import ipaddress
import os
import pwd

import pytest

from testbed.cluster import plan
from testbed.cluster.doctor import parse_report
from testbed.cluster.remote import ssh_argv

GOOD = {'ssh': '', 'sudo': 'ok', 'mininet': '2.3.0', 'ovs': 'ovs-vsctl (Open vSwitch) 3.1.0', 'tun': 'yes',
        'testbed': '0.1.0', 'clock': '1000.2', 'sent': '1000.0', 'received': '1000.2'}
LOCAL = {'mininet': '2.3.0', 'ovs': 'ovs-vsctl (Open vSwitch) 3.1.0', 'testbed': '0.1.0'}


def test_fake_servers_sit_on_the_documentation_network_apart_from_the_client():
    servers = plan.fake_servers(3)
    assert [server.name for server in servers] == ['tbsrv1', 'tbsrv2', 'tbsrv3']
    addresses = {ipaddress.ip_address(server.address) for server in servers}
    assert all(address in plan.MANAGEMENT_NET and not address.is_global for address in addresses)
    assert len(addresses) == 3 and ipaddress.ip_address(str(plan.CLIENT_ADDRESS)) not in addresses


@pytest.mark.parametrize('count', [0, plan.MAX_FAKE_SERVERS + 1])
def test_an_impossible_number_of_fake_servers_is_refused(count):
    with pytest.raises(ValueError, match='fit this plan'):
        plan.fake_servers(count)


def test_sshd_takes_root_by_key_only_on_its_own_address_and_allows_tunnels():
    server = plan.fake_servers(2)[1]
    text = plan.sshd_config(server, '/etc/ssh/k', '/etc/ssh/authorized_keys', '/run/sshd.pid')
    lines = set(text.splitlines())
    assert {f'ListenAddress {server.address}', 'PermitRootLogin prohibit-password', 'PasswordAuthentication no',
            'PermitTunnel yes', 'UseDNS no', 'AuthorizedKeysFile /etc/ssh/authorized_keys',
            'SetEnv TESTBED_PATH=userspace'} <= lines


def test_the_client_pins_the_host_key_and_uses_only_the_cluster_key():
    servers = plan.fake_servers(2)
    config = plan.ssh_client_config(servers, '/x/key', '/x/known')
    assert config.splitlines()[0] == 'Host 198.51.100.11 198.51.100.12'
    assert '    StrictHostKeyChecking yes' in config and '    IdentitiesOnly yes' in config
    known = plan.known_hosts(servers, 'ssh-ed25519 AAAAkey testbed host_key\n')
    assert known == '198.51.100.11 ssh-ed25519 AAAAkey\n198.51.100.12 ssh-ed25519 AAAAkey\n'


def test_a_ready_server_passes_every_check():
    rows = plan.verdicts(LOCAL, {'s1': GOOD})
    assert [row['check'] for row in rows] == [
        'ssh in batch mode', 'sudo without a password', 'Mininet version matches', 'Open vSwitch version matches',
        'the testbed version matches', 'tunnels possible (/dev/net/tun)', 'clock within 1 s of this one']
    assert all(row['ok'] and not row['fix'] for row in rows)
    assert rows[-1]['detail'] == '+0.100 s'


def test_a_server_without_ssh_gets_only_the_ssh_row_and_the_fix_fits_the_error():
    denied = plan.verdicts(LOCAL, {'s1': {'ssh': 'root@s1: Permission denied (publickey).'}})
    assert len(denied) == 1 and not denied[0]['ok'] and 'ssh-copy-id s1' in denied[0]['fix']
    unreachable = plan.verdicts(LOCAL, {'s1': {'ssh': 'ssh: connect to host s1 port 22: No route to host'}})
    assert 'reachable' in unreachable[0]['fix']


def test_mismatches_name_both_sides_and_what_to_do():
    report = {**GOOD, 'ovs': 'ovs-vsctl (Open vSwitch) 2.17.9', 'sudo': 'sudo asks for a password', 'tun': 'no',
              'clock': '1003.5', 'mininet': 'bash: mn: command not found',
              'testbed': "ModuleNotFoundError: No module named 'testbed'"}
    failed = {row['check']: row for row in plan.verdicts(LOCAL, {'s1': report}) if not row['ok']}
    assert set(failed) == {'sudo without a password', 'Mininet version matches', 'Open vSwitch version matches',
                           'the testbed version matches', 'tunnels possible (/dev/net/tun)',
                           'clock within 1 s of this one'}
    assert failed['the testbed version matches']['detail'] == 'here 0.1.0, there missing'
    assert failed['Open vSwitch version matches']['detail'] == 'here 3.1.0, there 2.17.9'
    assert failed['Mininet version matches']['detail'] == 'here 2.3.0, there missing'
    assert failed['clock within 1 s of this one']['detail'] == '+3.400 s'
    assert all(row['fix'] for row in failed.values())


def test_the_report_and_the_ssh_command_line():
    assert parse_report('clock=1.5\nnoise\nmininet=2.3.0\novs=a=b\n') == {'clock': '1.5', 'mininet': '2.3.0',
                                                                         'ovs': 'a=b'}
    argv = ssh_argv('s1', ['sh', '-c', 'echo a b'])
    assert argv[0] == 'ssh' and 'BatchMode=yes' in argv and argv[-2:] == ['s1', "sh -c 'echo a b'"]
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert ssh_argv('s1', ['true'], user=me)[0] == 'ssh' and ssh_argv('s1', ['true'], user=me)[-2] == f'{me}@s1'
    other = ssh_argv('s1', ['true'], user='nobody')   # another user's own keys, as the cluster edition does
    assert other[:5] == ['sudo', '-E', '-u', 'nobody', 'ssh'] and other[-2] == 'nobody@s1'


def test_the_tunnel_setup_goes_first_in_sshd_config_and_is_checked_before_the_reload():
    lines = plan.permit_tunnel_script('/etc/ssh/sshd_config').splitlines()
    assert lines[0] == 'set -e' and 'sshd -T' in lines[1] and 'echo already' in lines[1]
    insert = next(line for line in lines if line.startswith('sed '))
    assert "'1i " in insert and '\\nPermitTunnel yes' in insert and insert.endswith('/etc/ssh/sshd_config')
    assert lines.index('sshd -t') < next(index for index, line in enumerate(lines) if 'HUP' in line)
    assert lines[-1] == 'echo set'
    assert plan.sudoers_line('alice') == 'alice ALL=(ALL) NOPASSWD: ALL'


def test_a_delayed_link_takes_netem_only_where_both_servers_have_it_else_one_servers_delay_line():
    both = {'a': 'kernel', 'b': 'kernel'}
    assert plan.delay_site(('a', 'b'), both) is None            # netem at each end's egress
    assert plan.delay_site(('a', 'b'), {'a': 'userspace', 'b': 'kernel'}) == 'a'
    assert plan.delay_site(('a', 'b'), {'a': 'kernel', 'b': 'userspace'}) == 'b'
    assert plan.delay_site(('a', 'b'), {'a': 'userspace', 'b': 'userspace'}) == 'a'   # the first node's server
    assert plan.delay_site(('a', 'a'), {'a': 'userspace'}) == 'a'
    assert plan.delay_site(('a', 'c'), both) == 'c'             # a server whose path is unknown has no netem


def test_a_cluster_links_interface_refuses_to_change_its_shaping_at_run_time():
    from types import SimpleNamespace

    from testbed.cluster.links import ClusterIntf
    from testbed.errors import TestbedError
    with pytest.raises(TestbedError, match=r's1-eth2: bw, delay cannot change while a cluster run runs'):
        ClusterIntf.config(SimpleNamespace(name='s1-eth2'), delay='5ms', bw=10)
