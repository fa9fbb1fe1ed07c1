"""Fidelity checks: a measurement against its expected value with a stated tolerance.

Used by tests, the benchmark and experiments so that every comparison prints the same way:
``what: measured M, expected E +- T unit (ok|OFF)``.

Delay tolerance: the testbed's target is that each link's contribution to a round trip is within
max(0.3 ms, 2 %) of 2 x its delay; a path of several links sums those per-link tolerances. On an emulated CPU
(QEMU TCG, as in the VM stage on machines without usable KVM) every timer-driven release of a packet is late by the
emulator's wake-up latency, which no link emulator can avoid; there the tolerance adds, for each link traversal, the
lateness of a timer as long as that link's delay, measured on this machine, and says so. Under TCG that lateness grows
with the timer (seen in the VM stage: ~0.3 ms for 1 ms, ~0.9 ms from 10 ms on, as the idle vCPU sleeps deeper), so
one figure for all delays is wrong for some. On real CPUs (bare metal, KVM, VirtualBox) that term is zero.

Links between two switches of the OVS userspace datapath cost one more thing: the frame a delay line releases
after an idle spell must wake ovs-vswitchd, which in the unshaped reference was already running (seen: 0.1-0.3 ms
per traversal on this 2-vCPU VM). There the tolerance adds, per traversal, the wake-up latency the probe measures
for a process idle as long as the link's delay (testbed.system.probe.wakeup_latency_us), and says so. A link
between two servers of a cluster run wakes three such processes each way (the tunnel's ssh client and sshd, then the
next switch), on real CPUs a few tens of microseconds, under an emulated CPU most of a millisecond each.
"""
from testbed.measure.compare import Comparison
from testbed.system.probe import current_plan, probe, timer_lateness_us, wakeup_latency_us

BASE_TOLERANCE_MS = 0.3
RELATIVE_TOLERANCE = 0.02
ENCAPSULATION_BOUND_MS = 0.5   # what one encapsulation and decapsulation (or a translation) may add, each way


def emulation_allowance_ms(delay_ms=None):
    """Per timer-driven release: how late an emulated CPU wakes, or 0 on a real one.

    The larger of the 1 ms timer's 99th percentile (under TCG lateness comes in bursts that hit several releases
    of one probe; the 90th let a 2-link RTT check flake) and, for a release ``delay_ms`` after the packet arrived,
    the median lateness of a timer that long (measured once per length; the checks compare medians too)."""
    caps = probe()
    if not caps.has('cpu_emulated'):
        return 0.0
    late = caps.timer_late_us
    allowance = late.get('p99', late.get('p90', late.get('median', 0.0)))
    if delay_ms and delay_ms > 1:
        allowance = max(allowance, timer_lateness_us(round(delay_ms, 1))['median'])
    return allowance / 1000.0


def wakeup_allowance_ms(delay_ms):
    """Per idle userspace process a delayed frame wakes: the measured wake-up latency of a process idle for
    ``delay_ms``."""
    return wakeup_latency_us(round(delay_ms, 1)) / 1000.0 if delay_ms else 0.0


def rtt_tolerance(link_delays_ms, between_switches=False, idle_processes=None):
    """(tolerance in ms, note) for the RTT a path of links with these one-way delays adds; ``between_switches``:
    every one of those links joins two switches. ``idle_processes``: how many idle userspace processes a frame of
    each link wakes after its delay, each way (a switch of the userspace datapath; across servers also the tunnel's
    ssh client and sshd); by default one where the links join switches of this machine's userspace datapath."""
    tolerance = sum(max(BASE_TOLERANCE_MS, RELATIVE_TOLERANCE * 2 * delay) for delay in link_delays_ms)
    per_release = [emulation_allowance_ms(delay) for delay in link_delays_ms]
    allowance = 2 * sum(per_release)
    notes = []
    if allowance:
        each = '/'.join(f'{late * 1000:.0f}' for late in sorted(set(per_release)))
        notes.append(f'includes {allowance:.2f} ms for {2 * len(link_delays_ms)} timer-driven releases on an '
                     f'emulated CPU ({each} us each: the measured lateness of a timer as long as the link delay)')
    if idle_processes is None:
        idle_processes = 1 if between_switches and current_plan().datapath == 'userspace' else 0
    wakes = [wakeup_allowance_ms(delay) for delay in link_delays_ms] if idle_processes else []
    if sum(wakes):
        each = '/'.join(f'{wake * 1000:.0f}' for wake in sorted(set(wakes)))
        what = 'switch' if idle_processes == 1 else 'process (switch, tunnel)'
        notes.append(f'includes {2 * idle_processes * sum(wakes):.2f} ms for {2 * idle_processes * len(wakes)} '
                     f'wake-ups of an idle userspace {what} ({each} us each, measured)')
        allowance += 2 * idle_processes * sum(wakes)
    return tolerance + allowance, '; '.join(notes)


def compare_rtt(what, measured_ms, link_delays_ms, between_switches=False, idle_processes=None):
    """Compare a measured added RTT with 2 x the sum of the links' one-way delays (``rtt_tolerance``)."""
    tolerance, note = rtt_tolerance(link_delays_ms, between_switches, idle_processes)
    return Comparison.within(what, measured_ms, 2 * sum(link_delays_ms), tolerance, 'ms', note)
