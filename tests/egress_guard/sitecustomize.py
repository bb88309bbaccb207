"""Loaded into every Python process of the egress test (via PYTHONPATH): records and blocks any attempt to
connect to, send a datagram to, or resolve, an address that is not loopback. The log file is named by
CONFIDANT_TEST_EGRESS_LOG. Python's view only: native code (onnxruntime, llama.cpp) goes past it, which is why the
guards in tests/test_no_egress.py also watch at the OS level (strace, a network namespace)."""

import ipaddress
import os
import socket

_LOG = os.environ.get("CONFIDANT_TEST_EGRESS_LOG", "")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "", None}


def _is_loopback(host: object) -> bool:
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback or str(host) in ("0.0.0.0", "::")
    except ValueError:
        return False


def _record(what: str) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {what}\n")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_sendto = socket.socket.sendto
_getaddrinfo = socket.getaddrinfo


def _guard(sock: socket.socket, address: object, call: str = "connect") -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        if not _is_loopback(address[0]):
            _record(f"{call} {address!r}")
            raise ConnectionRefusedError(f"egress blocked by test guard: {address!r}")


def connect(self: socket.socket, address: object) -> None:
    _guard(self, address)
    return _connect(self, address)


def connect_ex(self: socket.socket, address: object) -> int:
    _guard(self, address)
    return _connect_ex(self, address)


def sendto(self: socket.socket, data: bytes, *args: object) -> int:
    _guard(self, args[-1], "sendto")  # sendto(data, address) or sendto(data, flags, address)
    return _sendto(self, data, *args)  # type: ignore[arg-type]


def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    name = host.decode() if isinstance(host, bytes) else host
    if not _is_loopback(name):
        _record(f"resolve {name!r}")
        raise socket.gaierror(socket.EAI_NONAME, f"name resolution blocked by test guard: {name!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = connect  # type: ignore[method-assign]
socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
socket.socket.sendto = sendto  # type: ignore[method-assign]
socket.getaddrinfo = getaddrinfo
