"""Single sign-on through a trusted reverse proxy: the proxy authenticates and names the user in a header.

Off unless `sso_header` is set, and the header is believed only when the request comes straight from one of the
`trusted_proxies` addresses — anyone else could simply send the header themselves.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from confidant.settings import Settings


def from_trusted_proxy(remote: str | None, trusted: list[str]) -> bool:
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d
    for entry in trusted:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def sso_username(headers: Mapping[str, str], remote: str | None, settings: Settings) -> str | None:
    """The user the trusted proxy vouches for, or None (SSO off, header missing, or request not from the proxy)."""
    if not settings.sso_header or not from_trusted_proxy(remote, settings.trusted_proxies):
        return None
    wanted = settings.sso_header.lower()
    for name, value in headers.items():
        if name.lower() == wanted and value.strip():
            return value.strip().lower()
    return None
