"""Read what `strace` saw a process tree send, and pick out every attempt to reach beyond this machine.

The command is traced with `traced()`: connect, sendto, sendmsg and sendmmsg of every process and thread it starts
(forks followed), logged to a file. `outbound_attempts()` reads that log and returns each call whose address is an
IPv4 or IPv6 address outside loopback (a DNS query to the nameserver included), or a hand-off of a name lookup to a
resolver daemon. Native code is seen as well as Python: this is the kernel's view, not the socket module's.

Decisions:
- Loopback is 127.0.0.0/8 and ::1 (also as ::ffff:127.x.y.z). 0.0.0.0 and :: count as local too: Linux connects
  them to this host.
- AF_UNIX and AF_NETLINK stay on the machine. One exception: a connect to systemd-resolved's sockets
  (/run/systemd/resolve/…) is a host-name lookup that /etc/hosts could not answer, so it is a name headed for DNS.
  nscd's socket is not flagged: glibc asks nscd for user and group records too (getpass.getuser does), and where
  nscd is absent (as in CI) glibc sends host lookups to the nameserver itself, which shows up as AF_INET port 53.
- Any other address family (packet, bluetooth, vsock, …) is flagged.
- A call counts whether or not it succeeded: the attempt is the fault.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

TRACED_CALLS = ("connect", "sendto", "sendmsg", "sendmmsg")
STRACE = "/usr/bin/strace"
RESOLVER_SOCKETS = ("/run/systemd/resolve/", "/var/run/systemd/resolve/")
LOCAL_FAMILIES = {"AF_UNIX", "AF_LOCAL", "AF_NETLINK", "AF_UNSPEC"}

_CALL = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(" + "|".join(TRACED_CALLS) + r")\((.*)$")
# data buffers ("POST /v1/…", iov_base="…") are blanked so their bytes cannot pass for an address
_DATA = re.compile(r'(?<!inet_addr\()(?<!sun_path=)(?<!sun_path=@)(?<!AF_INET6, )"(?:[^"\\]|\\.)*"(?:\.\.\.)?')
_SOCKADDR = re.compile(r"\{sa_family=(AF_\w+)(.*?)\}")
_INET = re.compile(r'sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)')
_INET6 = re.compile(r'sin6_port=htons\((\d+)\).*?inet_pton\(AF_INET6, "([^"]+)"')
_UNIX = re.compile(r'sun_path=@?"([^"]*)"')
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Attempt:
    pid: int
    call: str
    family: str
    address: str
    line: str
    detail: str = ""

    def __str__(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return f"pid {self.pid} {self.call} {self.family} {self.address}{detail}    <- {self.line.strip()}"


def traced(command: list[str], log: Path) -> list[str]:
    """`command` under strace: all forks and threads followed, only the sending calls stopped (seccomp filter)."""
    return [STRACE, "-f", "--seccomp-bpf", "-qq", "-e", "trace=" + ",".join(TRACED_CALLS), "-e", "signal=none",
            "-s", "128", "-o", str(log), *command]


def is_local(ip: str) -> bool:
    address = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def outbound_attempts(log: str) -> list[Attempt]:
    """Every traced call in an strace log that tries to reach beyond this machine. A query sent on a socket
    connected to a nameserver is listed too, with the name it asks for."""
    found: list[Attempt] = []
    nameservers: dict[tuple[int, str], tuple[str, str]] = {}  # (thread, fd) -> connected outside port 53
    for line in log.splitlines():
        match = _CALL.match(line)
        if match is None:
            continue
        pid, call, raw = int(match[1]), match[2], match[3]
        fd = raw.split(",", 1)[0]
        args = _DATA.sub('""', raw)
        addresses = _SOCKADDR.findall(args)
        if call == "connect":
            nameservers.pop((pid, fd), None)
        for family, fields in addresses:
            address = _outside(family, fields)
            if address is not None:
                found.append(Attempt(pid, call, family, address, line, _dns_query(raw) if address.endswith(":53")
                                     and call != "connect" else ""))
                if call == "connect" and address.endswith(":53"):
                    nameservers[(pid, fd)] = (family, address)
        if not addresses and call != "connect" and (pid, fd) in nameservers:
            family, address = nameservers[(pid, fd)]
            found.append(Attempt(pid, call, family, address, line, _dns_query(raw)))
    return found


def _dns_query(args: str) -> str:
    """'DNS query for NAME' from the first data buffer of a traced send, or '' when it is not a DNS query."""
    text = _STRING.search(args)
    if text is None:
        return ""
    data = text[1].encode("latin-1", "replace").decode("unicode_escape").encode("latin-1", "replace")
    labels, at = [], 12
    while 12 <= at < len(data) and data[at]:
        label = data[at + 1: at + 1 + data[at]].decode("ascii", "replace")
        cut = at + 1 + data[at] > len(data)  # strace shortened the buffer
        labels.append(label + "…" if cut else label)
        at += 1 + data[at]
    return f"DNS query for {'.'.join(labels)}" if len(data) > 12 and labels else ""


def _outside(family: str, fields: str) -> str | None:
    """The address if it leaves the machine (or asks a resolver daemon for a name), else None."""
    if family == "AF_INET" and (m := _INET.search(fields)):
        return None if is_local(m[2]) else f"{m[2]}:{m[1]}"
    if family == "AF_INET6" and (m := _INET6.search(fields)):
        return None if is_local(m[2]) else f"[{m[2]}]:{m[1]}"
    if family in ("AF_UNIX", "AF_LOCAL"):
        path = m[1] if (m := _UNIX.search(fields)) else ""
        return f"{path} (name lookup through a resolver daemon)" if path.startswith(RESOLVER_SOCKETS) else None
    if family in LOCAL_FAMILIES:
        return None
    return fields.strip(", ") or family


def attempts_in(logs: list[Path]) -> list[tuple[Path, Attempt]]:
    return [(log, a) for log in logs for a in outbound_attempts(log.read_text(errors="replace"))]


def report(found: list[tuple[Path, Attempt]]) -> str:
    return "\n".join(f"{log.name}: {attempt}" for log, attempt in found)
