"""Ryu app: the testbed's control plane on Ryu 4.34. OpenFlow switches become routers with computed tables.

A thin shim, as in FAUCET: the app's body is ``testbed.control.app.router_app`` (the same for os-ken, see
``controllers/router_osken.py``), every decision ``testbed.control.core.RouterCore`` (pure, unit-tested without
switches). Loaded by module name (``controllers.router``), not by file path. REST: ``testbed.control.api``.
"""
from ryu.base import app_manager
from ryu.controller import handler, ofp_event
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3
from ryu.topology import event as topology_event

from testbed.control.app import Runtime, router_app


class TestbedRouter(router_app(Runtime(app_manager.RyuApp, ofp_event, handler, ofproto_v1_3, topology_event, hub))):
    """Proactive shortest-path routing for the testbed's OpenFlow core (on Ryu)."""
