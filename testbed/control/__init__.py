"""The control plane: forwarding tables computed from the whole topology and pushed to Open vSwitch.

- pure (layer 1): ``routing`` (link-state and distance-vector tables, IPv4 and IPv6), ``flows`` (the address plan
  and tables as OpenFlow 1.3 flow specs), ``ofwire`` (packing FlowMods byte for byte), ``circuits`` (admission
  control for reservations), ``packets`` (the ARP, neighbour and time-exceeded answers as bytes);
- layer 3: ``ryu`` (Ryu as a Mininet controller node, and a controller the user runs), ``client`` (the REST API
  from another command), ``tables`` (``testbed tables``).

The Ryu application itself is ``controllers/router.py``. Pure modules import only layer 0 and each other.
"""
