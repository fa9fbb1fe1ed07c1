"""6to4 (RFC 3056) and the relay (RFC 3068), the paper's two scenarios.

- pure (layer 1): ``addressing`` (2002:V4ADDR::/48, RFC 3964 checks), ``coalesce`` (receive offload: segments of
  one flow merged into a GSO packet);
- layer 3: ``nodes`` (6to4 routers, relays, the IPv6 router and DNS server as Mininet nodes; where the kernel has
  no sit, their 6to4 interface is ``testbed.transition.encapsulator`` in mode 6to4, started by module name),
  ``spoof`` (crafted protocol-41 datagrams for the RFC 3964 tests); ``testbed sixtofour`` is
  ``testbed.transition.status``.

May import: layers 0-2, ``network``.
"""
