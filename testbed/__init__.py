"""The testbed: Mininet with checked links, userspace fallbacks, a Ryu control plane, 6to4, experiments and labs.

One folder per concept; imports run one way, from the bottom up (``tests/unit/test_layers.py`` enforces it, and
docs/architecture.md draws it):

====  ===========================================================================================================
0     ``errors``, ``units``: the error every user mistake becomes, and parsing of rates, times, percentages
1     pure logic, no system access: ``link.params``, ``control.{routing,flows,ofwire,circuits,packets,core}``,
      ``sixtofour.{addressing,coalesce}``, ``transition.{tunnels,nat64,survey,broker,sixover4}``,
      ``measure.{theory,compare,multiplexing}``, ``vm.plan``
2     ``system``: the kernel probe, run records and scoped cleanup, daemons, signals, loading a user's code
3     what builds and drives the network: ``link``, ``network``, ``control``, ``sixtofour``, ``transition``,
      ``measure``
4     ``reports``: experiments, labs, the demo and the benches; ``vm``: the VM stage
5     ``cli``: the ``testbed`` command
====  ===========================================================================================================
"""
import os

__version__ = "0.1.0"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the checkout: topologies/, labs/, experiments/
