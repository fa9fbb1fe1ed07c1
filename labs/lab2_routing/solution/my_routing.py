"""Lab 2 - reference solution (kept apart from the starter): Dijkstra, then first hops with the lab's tie rule."""
import heapq


def _distances(graph, source):
    distance = {source: 0.0}
    queue = [(0.0, source)]
    done = set()
    while queue:
        cost, node = heapq.heappop(queue)
        if node in done:
            continue
        done.add(node)
        for neighbour, link in graph[node].items():
            if cost + link < distance.get(neighbour, float('inf')):
                distance[neighbour] = cost + link
                heapq.heappush(queue, (cost + link, neighbour))
    return distance


def next_hops(graph, source):
    # a first hop n is on a cheapest path to d when cost(source, n) + dist(n, d) == dist(source, d)
    from_source = _distances(graph, source)
    from_neighbour = {n: _distances(graph, n) for n in graph[source]}
    result = {}
    for dest, total in from_source.items():
        if dest == source:
            continue
        for neighbour in sorted(graph[source]):
            via = graph[source][neighbour] + from_neighbour[neighbour].get(dest, float('inf'))
            if abs(via - total) <= 1e-9:
                result[dest] = [total, neighbour]
                break
    return result
