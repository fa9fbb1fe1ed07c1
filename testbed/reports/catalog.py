"""What the repository offers on top of the testbed, by name: the topologies of ``topologies/`` (each module
exposes ``topos = {'name': TopoClass}``, Mininet's convention). Experiments and labs have their registries in
``experiment`` and ``labs``."""
import importlib
import inspect
import pkgutil


def topologies():
    """{name: (factory, module name)} from every module of the ``topologies`` package."""
    import topologies as package
    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f'topologies.{info.name}')
        for name, factory in getattr(module, 'topos', {}).items():
            found[name] = (factory, module.__name__)
    return found


def known_topologies():
    """{name: factory}, what ``testbed.network.topo.load`` resolves names with."""
    return {name: factory for name, (factory, _module) in topologies().items()}


def describe(factory):
    """First line of a topology's docstring."""
    doc = inspect.getdoc(factory) or ''
    return doc.splitlines()[0] if doc else ''
