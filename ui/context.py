"""What the pages share: the Gate (sign-in) built once per app process, and the Workspace of the person using this
browser session — every page reads and changes documents and records through it, and through nothing else."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from confidant.access import LOCAL_CALLER, Caller
from confidant.services import Services
from confidant.settings import Settings
from confidant.workspace import Gate, Workspace


@dataclass
class AppContext:
    gate: Gate
    closer: Callable[[], None] | None = None
    workspace: Workspace | None = None

    @classmethod
    def create(cls, services: Services) -> AppContext:
        gate = services.gate()
        gate.start_background_indexing()
        return cls(gate, services.close)

    @property
    def settings(self) -> Settings:
        return self.gate.settings

    def for_caller(self, caller: Caller) -> AppContext:
        """This context seen by one caller (a copy; the shared parts are not duplicated)."""
        return dataclasses.replace(self, workspace=self.gate.workspace(caller))

    @property
    def ws(self) -> Workspace:
        """The caller's Workspace (the local single user when none was set)."""
        if self.workspace is None:
            self.workspace = self.gate.workspace(LOCAL_CALLER)
        return self.workspace

    def collection_names(self) -> list[str]:
        """The collections this caller may use (the default one included for admins)."""
        return self.ws.collections()

    def close(self) -> None:
        if self.closer is not None:
            self.closer()
