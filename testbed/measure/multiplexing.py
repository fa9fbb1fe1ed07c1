"""Statistical multiplexing and circuit switching, as numbers: the lecture's models, pure.

- On/off sources: each of N sources is on in a slot with probability p and then sends at its peak rate P. The
  sum of the peaks is N x P (each source's P measured over its on slots); the sum of the averages N x p x P;
  the aggregate's peak (taken as a high quantile of the per-slot aggregate) follows the binomial distribution
  and grows far slower than N.
- A link of capacity C with a buffer of B bits fed by that aggregate loses what a fluid queue overflows
  (``fluid_queue``): the expected loss of a given slot schedule, to compare with what the testbed drops.
- Circuits: calls arriving as a Poisson process, each holding one of m circuits for an exponential time, are
  refused with the Erlang-B probability ``erlang_b(m, A)`` of the offered load A (erlangs).

Everything here is deterministic given a seed, and needs neither root nor a network.
"""
import math
import random
from typing import Dict, Iterable, List, Sequence


def onoff_schedule(sources: int, slots: int, p_on: float, seed: int) -> List[str]:
    """Each source's on/off pattern over ``slots`` slots: a list of strings of '1' (on) and '0' (off)."""
    rng = random.Random(seed)
    return [''.join('1' if rng.random() < p_on else '0' for _ in range(slots)) for _ in range(sources)]


def binomial_quantile(n: int, p: float, q: float) -> int:
    """The smallest k with P(Binomial(n, p) <= k) >= q."""
    if not 0 < q <= 1:
        raise ValueError(f'quantile {q} must be in (0, 1]')
    total = 0.0
    for k in range(n + 1):
        total += math.comb(n, k) * p ** k * (1 - p) ** (n - k)
        if total >= q - 1e-12:
            return k
    return n


def expected_excess(n: int, p: float, capacity_sources: float) -> float:
    """E[(K - c)+] for K ~ Binomial(n, p): the mean number of sources beyond a capacity of c sources."""
    return sum(math.comb(n, k) * p ** k * (1 - p) ** (n - k) * (k - capacity_sources)
               for k in range(n + 1) if k > capacity_sources)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of ``values`` by linear interpolation between order statistics."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError('no values')
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def offered_per_slot(schedule: List[str], peak_bps: float) -> List[float]:
    """The aggregate offered load of each slot (bits/s) for a schedule of on/off strings."""
    return [peak_bps * sum(pattern[slot] == '1' for pattern in schedule) for slot in range(len(schedule[0]))]


def _mean_clamped(start, slope, bound, duration):
    """Time average over ``duration`` of start + slope * t, held at ``bound`` once it gets there."""
    if slope == 0:
        return start
    reach = (bound - start) / slope
    if reach >= duration:
        return start + slope * duration / 2
    return (reach * (start + bound) / 2 + (duration - reach) * bound) / duration


def fluid_queue(offered_bps: List[float], capacity_bps: float, buffer_bits: float, slot_s: float) -> dict:
    """A fluid FIFO of ``buffer_bits`` drained at ``capacity_bps``, fed a constant rate within each slot.

    Returns {'lost_fraction', 'offered_bits', 'lost_bits', 'mean_delay_s'}: the share of offered bits the buffer
    overflows, and the mean queueing delay of the bits that get through (queue / capacity when they arrive; a
    slot's arrivals are spread evenly, so that is the queue's time average over the slot, weighted by arrivals).
    """
    queue = lost = offered_total = delivered = weighted_delay = 0.0
    for rate in offered_bps:
        arriving = rate * slot_s
        slope = rate - capacity_bps
        overflow = max(0.0, queue + slope * slot_s - buffer_bits)
        bound = buffer_bits if slope > 0 else 0.0
        mean_queue = _mean_clamped(queue, slope, bound, slot_s)
        offered_total += arriving
        lost += overflow
        delivered += arriving - overflow
        weighted_delay += (arriving - overflow) * mean_queue / capacity_bps
        queue = min(buffer_bits, max(0.0, queue + slope * slot_s))
    return {'lost_fraction': lost / offered_total if offered_total else 0.0, 'offered_bits': offered_total,
            'lost_bits': lost, 'mean_delay_s': weighted_delay / delivered if delivered else 0.0}


def slot_rates(packets: Iterable[tuple], start_s: float, slot_s: float, slots: int) -> Dict[int, List[float]]:
    """Received bits/s per source and slot from (source, slot-stamp seconds, frame bytes) triples.

    Packets are put in the slot they were *sent* in (their timestamp), so queueing does not smear them into the
    next one. Returns {source: [bits/s per slot]}.
    """
    rates: Dict[int, List[float]] = {}
    for source, sent_s, size in packets:
        slot = int((sent_s - start_s) // slot_s)
        if 0 <= slot < slots:
            rates.setdefault(source, [0.0] * slots)[slot] += size * 8 / slot_s
    return rates


def peak_rate(per_slot: Sequence[float], pattern: str) -> float:
    """A source's peak: its rate while on, the median over the slots its ``pattern`` has it on.

    The maximum over all slots would measure the sender's pacing instead: a frame sent a few ms late lands in the
    next slot, and one slot then holds a frame more than the peak allows.
    """
    on = [rate for rate, state in zip(per_slot, pattern) if state == '1']
    return percentile(on, 0.5) if on else 0.0


def multiplexing_summary(rates: Dict[int, List[float]], patterns: Dict[int, str], slots: int,
                         quantile: float = 0.99) -> dict:
    """Sum of peaks (``peak_rate`` of each source, given its on/off pattern), peak of the aggregate (its
    ``quantile`` over the slots) and sum of averages of per-source slot rates."""
    aggregate = [sum(per_slot[slot] for per_slot in rates.values()) for slot in range(slots)]
    return {'sum_of_peaks': sum(peak_rate(per_slot, patterns[source]) for source, per_slot in rates.items()),
            'peak_of_aggregate': percentile(aggregate, quantile) if aggregate else 0.0,
            'sum_of_averages': sum(sum(per_slot) / slots for per_slot in rates.values())}


def erlang_b(circuits: int, erlangs: float) -> float:
    """Blocking probability of ``circuits`` servers offered ``erlangs`` of Poisson traffic (Erlang's B formula)."""
    if circuits < 0 or erlangs < 0:
        raise ValueError('circuits and load must be non-negative')
    blocking = 1.0
    for k in range(1, circuits + 1):
        blocking = erlangs * blocking / (k + erlangs * blocking)
    return blocking


def call_events(calls: int, erlangs: float, holding_s: float, seed: int) -> List[tuple]:
    """A seeded Poisson call workload: [(time, 'arrive'|'leave', call)] in time order.

    Arrivals come at rate erlangs / holding_s; each call holds for an exponential time of mean ``holding_s``.
    """
    rng = random.Random(seed)
    events, now = [], 0.0
    for call in range(calls):
        now += rng.expovariate(erlangs / holding_s)
        events.append((now, 'arrive', call))
        events.append((now + rng.expovariate(1 / holding_s), 'leave', call))
    return sorted(events, key=lambda event: (event[0], event[1] == 'arrive'))


def loss_system(events: List[tuple], circuits: int) -> tuple:
    """Replay ``events`` against ``circuits`` servers: (blocked, offered, per-call admitted flags)."""
    busy: set = set()
    admitted = {}
    for _, kind, call in events:
        if kind == 'arrive':
            admitted[call] = len(busy) < circuits
            if admitted[call]:
                busy.add(call)
        else:
            busy.discard(call)
    blocked = sum(1 for ok in admitted.values() if not ok)
    return blocked, len(admitted), admitted
