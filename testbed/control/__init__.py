"""The control plane: forwarding tables computed from the whole topology and pushed to Open vSwitch.

- pure (layer 1): ``routing`` (link-state and distance-vector tables, IPv4 and IPv6), ``flows`` (the address plan
  and tables as OpenFlow 1.3 flow specs), ``ofwire`` (packing FlowMods byte for byte), ``circuits`` (admission
  control for reservations), ``packets`` (the ARP, neighbour and time-exceeded answers as bytes), ``core`` (the
  controller's state and every decision: events and the time in, commands out);
- layer 3: ``openflow`` (the core's commands as OpenFlow messages to a Ryu or os-ken datapath), ``app`` (the router
  app's body for either runtime), ``rest`` (the REST API as a WSGI app), ``ryu`` (Ryu or os-ken as a Mininet
  controller node, and a controller the user runs), ``api`` (the REST API's paths and its one client),
  ``client`` (``testbed circuits``), ``tables`` (``testbed tables``).

The apps the managers load are ``controllers/router.py`` (Ryu) and ``controllers/router_osken.py`` (os-ken), each
a few imports around ``app``. Pure modules import only layer 0 and each other; layer 3 never imports ``ryu`` or
``os_ken`` itself.
"""
