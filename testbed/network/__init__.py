"""The emulated network (layer 3): ``net`` (TestbedNet: Mininet with checked links, the probe's paths, scoped
cleanup), ``topo`` (topologies as data, loading them by name or file, validation), ``nodes`` (hosts with routes
and IPv6), ``capture`` (tcpdump around an action).

May import: layers 0-2, ``link`` and ``control`` (the Ryu controller node, the address plan).
"""
