"""An interface's state inside another process's network namespace, without starting a process per read.

A socket belongs to the namespace it was created in, whatever thread later uses it. ``NamespaceSockets`` creates one
datagram socket per namespace, from a short-lived thread that enters the namespace (``setns``, which moves only the
calling thread) and then ends, and answers ``SIOCGIFFLAGS`` on it: the interface's administrative state (IFF_UP)
and its carrier (IFF_RUNNING; a veth whose peer is down has none). One ioctl per interface, no ``ip`` process: the
web view reads every link end once a second.
"""
import ctypes
import fcntl
import os
import socket
import struct
import threading
from typing import Dict, Optional

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
IFF_UP = 0x1
IFF_RUNNING = 0x40


def _socket_in(namespace_path: str) -> socket.socket:
    """A UDP socket created inside the network namespace at ``namespace_path``."""
    libc = ctypes.CDLL(None, use_errno=True)
    made: Dict[str, object] = {}

    def enter_and_create():
        try:
            with open(namespace_path) as target:
                if libc.setns(target.fileno(), CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f'setns {namespace_path}: {os.strerror(ctypes.get_errno())}')
            made['socket'] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        except OSError as exc:
            made['error'] = exc

    thread = threading.Thread(target=enter_and_create, name='netns-socket')  # the thread dies in the namespace
    thread.start()
    thread.join()
    if 'error' in made:
        raise made['error']
    return made['socket']


class NamespaceSockets:
    """Interface flags in the namespaces of running processes, one cached socket per namespace."""

    def __init__(self):
        self.sockets: Dict[str, socket.socket] = {}

    def state(self, pid: int, ifname: str) -> Optional[str]:
        """``up``, ``down`` (set down) or ``no carrier`` (set up, but its peer or wire is down) for ``ifname`` in
        ``pid``'s network namespace; None when either is gone."""
        path = f'/proc/{pid}/ns/net'
        try:
            namespace = os.readlink(path)
            if namespace not in self.sockets:
                self.sockets[namespace] = _socket_in(path)
            request = struct.pack('16sH14x', ifname.encode()[:15], 0)
            answer = fcntl.ioctl(self.sockets[namespace].fileno(), SIOCGIFFLAGS, request)
        except OSError:
            return None
        flags = struct.unpack('16sH14x', answer)[1]
        if not flags & IFF_UP:
            return 'down'
        return 'up' if flags & IFF_RUNNING else 'no carrier'

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close()
        self.sockets.clear()
