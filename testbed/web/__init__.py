"""A live web view of a running network: the topology, each link's load, the forwarding tables, the control
plane's timeline and circuits, tunnel counters, and links taken down and up from the page.

- pure (layer 1): ``view`` (node kinds, the layout, link loads from counter samples, the API's routes and its
  OpenAPI description, request checks);
- layer 4: ``state`` (what a running network's folder and namespaces say, and the actions), ``server`` (the HTTP
  server on 127.0.0.1, the token, the page in ``static/``).

May import: layers 0-3.
"""
