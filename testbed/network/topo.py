"""Topologies as data: a Mininet ``Topo`` that rejects mistakes early, and loading topologies by name or file.

``TestbedTopo`` refuses a node name used twice and a link to a node that does not exist, and validates each link's
shaping when the link is added, so bad input fails before anything is created. Topologies come from:

- a registry the caller passes (``testbed.reports.catalog.topologies()``: every module in ``topologies/``
  exposes ``topos = {'name': TopoClass}``, Mininet's convention), so ``testbed run linear --param n=4`` works;
- a Python file with the same ``topos`` dictionary (``path/to/file.py`` or ``file.py:name``);
- a declarative JSON or YAML file (see ``from_spec``).
"""
import inspect
import ipaddress
import json
import os
import re
import types

from mininet.topo import Topo

from testbed.errors import TestbedError
from testbed.link.params import SHAPING_KEYS, LinkParams

NAME_RE = re.compile(r'^[a-zA-Z][a-zA-Z0-9]{0,9}$')  # short: interface names are <node>-ethN, at most 15 chars
LINK_STRUCTURE_KEYS = ('port1', 'port2', 'intfName1', 'intfName2', 'addr1', 'addr2')
ADDRESS_KEYS = ('ip', 'ip6', 'v4', 'addresses')  # node options that give an interface an address
SPEC_NODE_OPTIONS = {'hosts': ('ip', 'mac', 'defaultRoute'), 'switches': ('dpid',)}  # in declarative files


def check_node_name(name):
    """Raise TestbedError unless ``name`` can name a node (its interfaces are <name>-ethN, at most 15 chars)."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise TestbedError(f'node name {name!r} must be a letter followed by up to 9 letters or digits')


def check_link(node1, node2, opts, nodes):
    """Raise TestbedError for a link to a missing node, a self-loop, or unknown or invalid link parameters."""
    for node in (node1, node2):
        if node not in nodes:
            raise TestbedError(f'link {node1}-{node2}: node {node!r} does not exist')
    if node1 == node2:
        raise TestbedError(f'link {node1}-{node2}: a link needs two different nodes')
    unknown = sorted(set(opts) - set(SHAPING_KEYS) - set(LINK_STRUCTURE_KEYS) - {'cls', 'node1', 'node2'})
    if unknown:
        raise TestbedError(f'link {node1}-{node2}: unknown link parameter {unknown[0]!r} '
                           f'(known: {", ".join(SHAPING_KEYS)})')
    LinkParams.from_options({k: v for k, v in opts.items() if k in SHAPING_KEYS}, where=f'link {node1}-{node2}')


def node_addresses(name, opts):
    """The interface addresses a node's options give it (``ip``, ``ip6``, ``v4``, ``addresses``); a malformed one
    is an error. A bare IPv4 address gets Mininet's default /8."""
    def flat(values):  # one address, a list of them, or one list per interface
        if isinstance(values, (list, tuple)):
            return [address for value in values for address in flat(value)]
        return [values] if values else []

    found = []
    for key in ADDRESS_KEYS:
        for value in flat(opts.get(key)):
            try:
                text = str(value)
                found.append(ipaddress.ip_interface(text if '/' in text or ':' in text else f'{text}/8'))
            except ValueError:
                raise TestbedError(f'node {name}: {key} {value!r} is not an IP address (such as 10.0.0.1/24 or '
                                   f'2001:db8::1/64)') from None
    return found


def validate(topo):
    """Check any Mininet ``Topo`` before anything is built: node names, links, addresses (well-formed, none
    given twice)."""
    if not isinstance(topo, Topo):
        raise TestbedError(f'a topology must be a Mininet Topo, not {type(topo).__name__}')
    nodes = set(topo.nodes())
    owners = {}
    for name in sorted(nodes):
        check_node_name(name)
        for address in node_addresses(name, topo.nodeInfo(name)):
            other = owners.setdefault(address.ip, name)
            if other != name:
                raise TestbedError(f'address {address.ip} is given to both {other} and {name}')
    for node1, node2, info in topo.links(sort=True, withInfo=True):
        check_link(node1, node2, info, nodes)


class TestbedTopo(Topo):
    """A Mininet Topo with checked names and validated link parameters."""

    __test__ = False

    def addNode(self, name, **opts):  # Mininet's API name
        check_node_name(name)
        if name in self.g.node:
            raise TestbedError(f'node name {name!r} is used twice')
        return super().addNode(name, **opts)

    def addLink(self, node1, node2, port1=None, port2=None, key=None, **opts):  # Mininet's API name
        check_link(node1, node2, opts, self.g.node)
        return super().addLink(node1, node2, port1, port2, key, **opts)

    def link_params(self):
        """(node1, node2, LinkParams) for every link: the topology's parameters, for theory and reports."""
        result = []
        for node1, node2, info in self.links(sort=True, withInfo=True):
            shaping = {k: v for k, v in info.items() if k in SHAPING_KEYS}
            result.append((node1, node2, LinkParams.from_options(shaping)))
        return result


def check_count(name, value, low, high=None):
    """Raise ValueError unless a topology's size parameter is a whole number in [low, high]."""
    if isinstance(value, int) and not isinstance(value, bool) and low <= value and (high is None or value <= high):
        return
    limit = f'from {low} to {high}' if high is not None else f'of at least {low}'
    raise ValueError(f'{name}={value!r} must be a whole number {limit}')


def shaping_options(values):
    """The link shaping parameters among a topology's ``build`` arguments (``locals()``), unset ones left out."""
    return {key: value for key, value in values.items() if key in SHAPING_KEYS and value is not None}


# -- parameters ------------------------------------------------------------------------------------------------

def parse_param_value(text):
    """``'4'`` -> 4, ``'2.5'`` -> 2.5, ``'true'`` -> True, anything else stays a string (``'10ms'``)."""
    lowered = text.strip().lower()
    if lowered in ('true', 'yes', 'on'):
        return True
    if lowered in ('false', 'no', 'off'):
        return False
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_params(items):
    """``['n=4', 'delay=10ms']`` -> ``{'n': 4, 'delay': '10ms'}``; a malformed item is an error."""
    params = {}
    for item in items or ():
        key, sep, value = item.partition('=')
        key = key.strip()
        if not sep or not key.isidentifier() or value.strip() == '':
            raise TestbedError(f'--param {item!r} is not KEY=VALUE (for example --param n=4)')
        params[key] = parse_param_value(value)
    return params


def instantiate(factory, params, name):
    """Call a topology class with user parameters, naming any parameter it does not take; whatever goes wrong in a
    user's ``build()`` (an exception, ``sys.exit``, something that is not a topology) becomes one TestbedError."""
    if not callable(factory):
        raise TestbedError(f'topology {name!r} is not a topology (a Topo class or a function returning one) but '
                           f'{type(factory).__name__} {factory!r:.40}')
    target = factory.build if isinstance(factory, type) and issubclass(factory, Topo) else factory
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        accepts_any = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
        known = [p for p in signature.parameters if p not in ('self', 'args', 'kwargs', 'opts', 'params')]
        for key in params:
            if not accepts_any and key not in signature.parameters:
                raise TestbedError(f'topology {name!r} has no parameter {key!r} '
                                   f'(it takes: {", ".join(known) or "none"})')
    try:
        topo = factory(**params)
    except TestbedError:
        raise
    except (TypeError, ValueError) as exc:
        raise TestbedError(f'topology {name!r}: {exc}') from None
    except SystemExit as exc:
        raise TestbedError(f'topology {name!r} called sys.exit({exc.code!r}) while building') from None
    except Exception as exc:  # a user's build() may raise anything: one line, naming it
        raise TestbedError(f'topology {name!r} failed to build: {type(exc).__name__}: {exc}') from None
    if not isinstance(topo, Topo):
        raise TestbedError(f'topology {name!r} gave a {type(topo).__name__}, not a Mininet Topo')
    return topo


# -- the registry and files ------------------------------------------------------------------------------------

def _read_text(path):
    """The file's text; a file that is not UTF-8 text (a binary, an image) is an error."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
        if b'\0' in data:
            raise ValueError('it holds NUL bytes')
        return data.decode('utf-8')
    except (UnicodeDecodeError, ValueError) as exc:
        raise TestbedError(f'topology file {path} is not a text file ({exc.reason if hasattr(exc, "reason") else exc})'
                           ) from None
    except OSError as exc:
        raise TestbedError(f'topology file {path} cannot be read: {exc.strerror}') from None


def _load_python_file(path, choice):
    source = _read_text(path)
    module = types.ModuleType(f'testbed_custom_{abs(hash(path))}')
    module.__file__ = path
    try:
        exec(compile(source, path, 'exec'), module.__dict__)  # noqa: S102 - running the user's topology is the point
    except SyntaxError as exc:
        raise TestbedError(f'topology file {path} does not parse: line {exc.lineno}: {exc.msg}') from None
    except TestbedError:
        raise
    except SystemExit as exc:
        raise TestbedError(f'topology file {path} called sys.exit({exc.code!r}) while loading') from None
    except Exception as exc:  # a user's file may raise anything while loading; report it in one line
        raise TestbedError(f'topology file {path} failed to load: {type(exc).__name__}: {exc}') from None
    topos = getattr(module, 'topos', None)
    if not isinstance(topos, dict) or not topos:
        raise TestbedError(f'topology file {path} has no "topos" dictionary (topos = {{"name": TopoClass}})')
    if choice is None:
        if len(topos) > 1:
            raise TestbedError(f'topology file {path} defines {", ".join(sorted(topos))}: choose one with '
                               f'{path}:NAME')
        choice = next(iter(topos))
    if choice not in topos:
        raise TestbedError(f'topology file {path} has no topology {choice!r} (it has: {", ".join(sorted(topos))})')
    return topos[choice], choice


def _read_spec(path):
    text = _read_text(path)
    try:
        if path.endswith('.json'):
            return json.loads(text)
        import yaml
        return yaml.safe_load(text)
    except ValueError as exc:  # json.JSONDecodeError
        raise TestbedError(f'topology file {path} does not parse: {exc}') from None
    except Exception as exc:  # yaml.YAMLError and friends
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TestbedError(f'topology file {path} does not parse: {first}') from None


def from_spec(spec, name='topology'):
    """Build a TestbedTopo from a declarative description::

        hosts: [h1, h2]                      # or {h1: {ip: 10.0.0.1/24}, ...}
        switches: [s1]
        links:
          - [h1, s1, {bw: 10, delay: 5ms}]  # or {a: h1, b: s1, bw: 10, delay: 5ms}
          - [h2, s1]
    """
    if not isinstance(spec, dict):
        raise TestbedError(f'{name}: expected a mapping with hosts, switches and links')
    unknown = sorted(set(spec) - {'hosts', 'switches', 'links', 'description'})
    if unknown:
        raise TestbedError(f'{name}: unknown section {unknown[0]!r} (known: hosts, switches, links)')
    topo = TestbedTopo()

    def nodes(section):
        value = spec.get(section) or []
        if isinstance(value, list):
            return [(item, {}) for item in value]
        if not isinstance(value, dict):
            raise TestbedError(f'{name}: {section} must be a list or a mapping')
        for node, opts in value.items():
            if opts is not None and not isinstance(opts, dict):
                raise TestbedError(f'{name}: {section[:-1]} {node}: options must be a mapping (such as {{ip: ...}})')
            unknown = sorted(set(opts or {}) - set(SPEC_NODE_OPTIONS[section]))
            if unknown:
                raise TestbedError(f'{name}: {section[:-1]} {node}: unknown option {unknown[0]!r} (known: '
                                   f'{", ".join(SPEC_NODE_OPTIONS[section])})')
        return [(key, opts or {}) for key, opts in value.items()]

    for node, opts in nodes('hosts'):
        topo.addHost(node, **opts)
    for node, opts in nodes('switches'):
        topo.addSwitch(node, **opts)
    for index, link in enumerate(spec.get('links') or []):
        if isinstance(link, list) and len(link) in (2, 3) and (len(link) == 2 or isinstance(link[2], dict)):
            node1, node2, opts = link[0], link[1], dict(link[2]) if len(link) == 3 else {}
        elif isinstance(link, dict) and 'a' in link and 'b' in link:
            opts = dict(link)
            node1, node2 = opts.pop('a'), opts.pop('b')
        else:
            raise TestbedError(f'{name}: link #{index + 1} must be [a, b, {{params}}] or {{a: .., b: .., ...}}')
        topo.addLink(node1, node2, **opts)
    return topo


def load(spec, params=None, known=None):
    """Return (topology, name) for a name in ``known`` ({name: factory}: the registry the caller passes, such as
    ``testbed.reports.catalog.topologies()``), a Python file (``file.py[:name]``) or a JSON/YAML file."""
    params = params or {}
    known = known or {}
    path, choice = spec.rsplit(':', 1) if '.py:' in spec else (spec, None)
    if path.endswith(('.py', '.json', '.yaml', '.yml')):
        if not os.path.isfile(path):
            raise TestbedError(f'topology file {path} does not exist')
        if path.endswith('.py'):
            factory, name = _load_python_file(path, choice)
            topo = instantiate(factory, params, name)
        elif params:
            raise TestbedError(f'topology file {path} takes no --param (edit the file instead)')
        else:
            topo, name = from_spec(_read_spec(path), name=path), os.path.basename(path)
    else:
        if spec not in known:
            raise TestbedError(f'unknown topology {spec!r} (known: {", ".join(sorted(known))}; '
                               f'or give a .py, .json or .yaml file)')
        topo, name = instantiate(known[spec], params, spec), spec
    validate(topo)
    return topo, name
