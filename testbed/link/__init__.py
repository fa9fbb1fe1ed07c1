"""Links: bandwidth, delay, jitter, loss and queue on either data-plane path.

- ``params`` (pure, layer 1): validated parameters, their semantics, the tc and delay-line plans;
- ``shaped`` (layer 3): Mininet links that apply and read back those plans, record their root-namespace
  interfaces and change shape at run time (``intf.config``);
- ``delayline`` (layer 3): the userspace delay line daemon used where the kernel has no ``sch_netem``, one
  process serving many links;
- ``lines`` (layer 3): a network's delay-line processes, started, retimed and stopped together.

May import: layers 0-2.
"""
