"""The lecture's forwarding table: a switch with links #2-#5 to UCB, NYU, MIT, UW; the table as on the slide."""
import time

from testbed.reports.experiment import Experiment, Quantity, axes, save
from testbed.control.tables import named_rows, read_switch
from topologies.control import STAR_DESTINATIONS, StarTopo

PINGS = 20


def theory(params):
    quantities = [Quantity(f'{name}: link', port, '#', absolute=0) for name, port in STAR_DESTINATIONS]
    quantities += [Quantity(f'{name}: share of its packets on its entry', 1.0, '', absolute=0.0)
                   for name, _ in STAR_DESTINATIONS]
    return quantities


def _entries(net):
    import json
    with open(net.run.path('plan.json')) as handle:
        plan = json.load(handle)
    return {row['destination']: row for row in named_rows(plan, 's1', read_switch('s1')) if ':' not in row['prefix']}


def measure(net, params, repetition, log):
    result = {}
    for name, _ in STAR_DESTINATIONS:
        before = _entries(net)
        address = net[name].IP()
        net['src'].cmd(f'ping -n -c {PINGS} -i 0.01 -q {address}')
        deadline = time.monotonic() + 5  # OVS folds datapath counters into flow statistics about once a second
        while True:
            after = _entries(net)
            moved = {dest: after[dest]['packets'] - before[dest]['packets'] for dest in after}
            if moved[name] >= PINGS or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        outgoing = sum(value for dest, value in moved.items() if dest != 'src')  # replies go back to src
        result[f'{name}: link'] = after[name]['port']
        result[f'{name}: share of its packets on its entry'] = moved[name] / outgoing if outgoing else 0.0
        result[f'{name}: packets per entry'] = {dest: value for dest, value in moved.items() if dest != 'src'}
    return result


def notes(result):
    lines = ['Forwarding table of s1 as read back from the switch (destination -> next-hop link):', '',
             '| destination | link | |', '|---|---|---|']
    first = result['raw']['repetitions'][0]
    for name, port in STAR_DESTINATIONS:
        lines.append(f'| {name} | #{first[f"{name}: link"]:.0f} | slide: #{port} |')
    lines += ['', f'Each repetition pings every destination {PINGS} times and reads the route entries\' packet '
              'counters: all of a destination\'s packets matched its own entry (share 1.0), none another\'s.']
    return lines


def plot(result, folder):
    """For each destination pinged, the packets each route entry of s1 counted: one bar per entry."""
    first = result['raw']['repetitions'][0]
    names = [name for name, _ in STAR_DESTINATIONS]
    figure, axis = axes()
    width = 0.8 / len(names)
    for index, entry in enumerate(names):
        counts = [first[f'{pinged}: packets per entry'].get(entry, 0) for pinged in names]
        port = dict(STAR_DESTINATIONS)[entry]
        axis.bar([i + (index - 1.5) * width for i in range(len(names))], counts, width,
                 label=f'entry {entry} (link #{port})')
    axis.set_xticks(range(len(names)), [f'pinged {name}' for name in names])
    axis.set_ylim(0, PINGS * 1.45)  # room for the legend above the bars
    return save(figure, axis, folder, 'forwarding-table.png', 'destination of the pings',
                f'packets on each entry of s1 ({PINGS} pings)')


EXPERIMENT = Experiment(
    name='forwarding-table', title='Forwarding tables: the lecture\'s star',
    model='A switch forwards by its forwarding table, destination -> next-hop link. The control plane computes the '
          'table (here the Ryu router app from the topology); the data plane only looks destinations up. The '
          'slide\'s table: MIT -> link #4, UW -> #5, UCB -> #2, NYU -> #3; "a packet to UCB leaves on link #2".',
    topology=lambda params: StarTopo(), theory=theory, measure=measure, controller='router', repetitions=2,
    notes=notes, plot=plot)
