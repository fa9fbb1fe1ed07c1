"""IPv6 transition techniques: the paper's survey (dual stack, tunnels, translation) and today's mechanisms.

- pure (layer 1): ``tunnels`` (every tunnel mode as a mapping on raw packets: manual 6in4, IPv4-compatible,
  6to4, 6rd, ISATAP; their address derivations and RFC checks), ``nat64`` (RFC 6052 address synthesis),
  ``survey`` (what each mechanism needs, what breaks it and its status today, with the RFC), ``broker`` (a
  tunnel broker's allocations, RFC 3053), ``sixover4`` (RFC 2529's mappings between IPv6 on a TAP and IPv4
  multicast), ``discovery`` (ISATAP router discovery: radvd's configuration, rdisc6's answer read back);
- layer 3: ``encapsulator`` (the one userspace encapsulator, any mode, where the kernel lacks sit),
  ``nodes`` (a Linux router; tunnel endpoints as Mininet nodes, kernel sit or the encapsulator; ISATAP routers
  and hosts with router discovery),
  ``brokerd`` (the broker and tunnel server daemon), ``sixover4d`` (the 6over4 interface daemon),
  ``translators`` (NAT64 and the 464XLAT CLAT with Tayga, DNS64 with unbound), ``status`` (``testbed tunnels``:
  every endpoint's and translator's counters).

6to4 itself, the paper's implementation, keeps its own folder (``testbed.sixtofour``); here it is one mode.

May import: layers 0-2, ``network``, ``sixtofour``.
"""
