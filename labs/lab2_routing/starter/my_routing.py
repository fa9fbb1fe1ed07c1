"""Lab 2 - forwarding tables: the route computation the controller runs. Fill in next_hops, then run:

    sudo .venv/bin/testbed lab grade 2 --student YOUR_ID --dir THIS_FOLDER

The controller (controllers/router.py) calls next_hops once per switch whenever the topology changes, and turns
its answer into each switch's forwarding table: every prefix attached behind switch D goes out of the port toward
next_hops(graph, S)[D][1]. You may implement link-state (Dijkstra: you see the whole graph) or distance-vector
(Bellman-Ford: repeat "my distance = min over neighbours of link cost + their distance" until nothing changes).
Only the Python standard library is needed.
"""


def next_hops(graph, source):
    """Shortest paths from ``source`` to every other switch it can reach.

    graph:  {switch: {neighbour: link cost}} -- costs are positive and the same in both directions,
            e.g. {'s1': {'s2': 1.0, 's3': 4.0}, 's2': {'s1': 1.0, 's3': 1.0}, 's3': {'s1': 4.0, 's2': 1.0}}
    source: the switch computing its table, e.g. 's1'

    Returns {destination: [total cost, first hop]} for every switch reachable from ``source`` except ``source``
    itself; the first hop is the neighbour of ``source`` on a cheapest path. Ties: among equally cheap paths take
    the first hop whose name sorts first. Leave unreachable switches out.
    For the example: {'s2': [1.0, 's2'], 's3': [2.0, 's2']}.
    """
    # TODO: compute the cheapest cost to every switch, and for each the first hop out of `source`.
    raise NotImplementedError
