"""Lab 4 - reference solution (kept apart from the starter)."""
import math


def admit(path_links, rate):
    for link in path_links:
        if link['capacity'] is None:
            return [False, f'{link["name"]} has no bandwidth to reserve']
        left = link['capacity'] - link['reserved']
        if left < rate:
            return [False, f'{link["name"]} has {left / 1e6:g} Mb/s unreserved']
    return [True, '']


def erlang_b(circuits, erlangs):
    blocking = 1.0
    for k in range(1, circuits + 1):
        blocking = erlangs * blocking / (k + erlangs * blocking)
    return blocking


def peak_of_aggregate(sources, p_on, quantile):
    total = 0.0
    for k in range(sources + 1):
        total += math.comb(sources, k) * p_on ** k * (1 - p_on) ** (sources - k)
        if total >= quantile - 1e-12:
            return k
    return sources
