"""Bursts of refusals from one client (a script guessing tokens, passwords or collection names), found in the
audit log for the Admin page: the clients with at least `threshold` refusals inside some 60-second window."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.audit import AuditEvent

REFUSALS = ("refused", "login_failed")
WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class Burst:
    client: str
    most_in_a_minute: int
    refusals: int
    first: str
    last: str
    users: tuple[str, ...]


def refusal_bursts(events: Iterable[AuditEvent], threshold: int) -> list[Burst]:
    """Clients whose refusals reach `threshold` within one minute, worst first."""
    by_client: dict[str, list[AuditEvent]] = defaultdict(list)
    for e in events:
        if e.action in REFUSALS:
            by_client[e.client or "?"].append(e)
    bursts = []
    for client, found in by_client.items():
        found.sort(key=lambda e: e.at)
        times = [datetime.fromisoformat(e.at) for e in found]
        most, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= WINDOW:
                start += 1
            most = max(most, end - start + 1)
        if most >= threshold:
            bursts.append(Burst(client, most, len(found), found[0].at, found[-1].at,
                                tuple(sorted({e.user for e in found}))))
    return sorted(bursts, key=lambda b: (-b.most_in_a_minute, b.client))
