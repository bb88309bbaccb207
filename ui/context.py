"""What the pages share: the services plus the app's own small stores (built once per app process), and the
Workspace of the person using this browser session — every page reads and changes documents through it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from confidant.access import LOCAL_CALLER, Caller, Workspace
from confidant.services import Services
from storage.collections import CollectionSettingsStore
from storage.feedback import FeedbackStore


@dataclass
class AppContext:
    services: Services
    collections: CollectionSettingsStore
    feedback: FeedbackStore
    workspace: Workspace | None = None

    @classmethod
    def create(cls, services: Services) -> AppContext:
        path = services.settings.registry_path
        return cls(services, CollectionSettingsStore(path), FeedbackStore(path))

    def for_caller(self, caller: Caller) -> AppContext:
        """This context seen by one caller (a copy; the shared stores are not duplicated)."""
        return dataclasses.replace(self, workspace=Workspace(self.services, caller, self.services.audit,
                                                             known_collections=self.known_collections))

    @property
    def ws(self) -> Workspace:
        """The caller's Workspace (the local single user when none was set)."""
        if self.workspace is None:
            self.workspace = Workspace(self.services, LOCAL_CALLER, self.services.audit,
                                       known_collections=self.known_collections)
        return self.workspace

    def known_collections(self) -> list[str]:
        """Collections with documents and collections created empty."""
        return sorted(set(self.services.registry.collections()) | set(self.collections.names()))

    def collection_names(self) -> list[str]:
        """The collections this caller may use (the default one included for admins)."""
        return self.ws.collections()

    def close(self) -> None:
        self.collections.close()
        self.feedback.close()
