"""Core package of the testbed: what topologies, controllers, experiments and tests share.

Pure logic (units, link parameters, address derivation, tc command plans) lives in small modules that need no
root; side effects (namespaces, tc, OVS, processes) live at the edges (``net``, ``links``, ``delayline``,
``runstate``).
"""

__version__ = "0.1.0"
