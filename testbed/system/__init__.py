"""What the testbed knows and does about the machine it runs on (layer 2).

- ``probe``: which kernel features exist (netem, sit, the OVS module, ...) and so which data-plane path each
  feature takes; timer and wake-up latencies for the fidelity tolerances;
- ``runstate``: each run's records of what it created, and the scoped cleanup that removes exactly that;
- ``daemon``: starting, stopping and signalling the testbed's own userspace daemons;
- ``interrupts``: Ctrl-C and SIGTERM as clean stops, and held for create-and-record moments;
- ``usercode``: a function from a user's file (a lab's routing module or admission rule);
- ``netns``: an interface's state inside another process's network namespace, without a process per read.

May import: ``testbed.errors``, ``testbed.units`` and the pure modules (layer 1).
"""
