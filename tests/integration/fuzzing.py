"""Fuzzing a userspace encapsulator from inside its own node, and accounting for every datagram sent."""
import json
import sys
import time


def counters(node, settle=0.6):
    time.sleep(settle)  # the encapsulator writes its counters within 0.25 s of the last packet
    return node.counters()


def fuzz(node, count, source, target, victim, rate=20000, seed=7):
    """Send ``count`` fuzzed protocol-41 datagrams from inside ``node`` to its own address ``target`` (over
    loopback: nothing in between can drop one); return what its encapsulator counted meanwhile: ``sent``,
    ``decap`` (the counters' growth), ``kernel_drops`` (socket buffer overflows), ``outcomes`` (delivered, write
    errors and drops, which must add up to ``decap['received']``) and ``end`` (the last counters)."""
    start = counters(node)
    output = node.cmd(f'{sys.executable} -m testbed.sixtofour.spoof fuzz {count} --rate {rate} --seed {seed} '
                      f'--source {source} --target {target} --victim {victim}')
    sent = json.loads(output.strip().splitlines()[-1])['sent']
    end = counters(node, settle=1.0)
    decap = {key: end['decap'][key] - start['decap'].get(key, 0) for key in end['decap']}
    dropped = sum(value for key, value in decap.items() if key.startswith('drop_'))
    return {'sent': sent, 'decap': decap, 'end': end,
            'kernel_drops': end['kernel_socket_drops'] - start['kernel_socket_drops'],
            'outcomes': decap['delivered'] + decap['write_errors'] + dropped}
