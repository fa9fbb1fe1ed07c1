"""The one-way UDP probe on loopback: every datagram counted, the end marker seen, delays measured."""
import threading

from testbed.measure import udpprobe


def test_probe_counts_every_datagram_on_loopback():
    result, ready = {}, threading.Event()
    port = 45301
    receiver = threading.Thread(target=lambda: result.update(
        udpprobe.receive(port, idle=0.3, timeout=20, ready=ready.set)))
    receiver.start()
    assert ready.wait(5)
    udpprobe.send('127.0.0.1', port, 300, rate=20000, size=100)
    receiver.join(30)
    assert result['sent'] == 300 and result['received'] == 300 and result['lost'] == 0
    assert result['end_marker'] and result['duplicates'] == 0
    assert 0 <= result['delay_ms']['min'] <= result['delay_ms']['median'] < 1000
