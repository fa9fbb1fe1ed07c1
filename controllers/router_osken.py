"""os-ken app: the testbed's control plane on os-ken 3.x, OpenStack's maintained fork of Ryu.

The same app as ``controllers/router.py`` (``testbed.control.app.router_app``) on os-ken's modules; selected with
``testbed run --controller --controller-runtime os-ken``.
"""
from os_ken.base import app_manager
from os_ken.controller import handler, ofp_event
from os_ken.lib import hub
from os_ken.ofproto import ofproto_v1_3
from os_ken.topology import event as topology_event

from testbed.control.app import Runtime, router_app


class TestbedRouter(router_app(Runtime(app_manager.OSKenApp, ofp_event, handler, ofproto_v1_3, topology_event,
                                       hub))):
    """Proactive shortest-path routing for the testbed's OpenFlow core (on os-ken)."""
