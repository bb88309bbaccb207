"""What the pages share: the services plus the app's own small stores, built once per app process."""

from __future__ import annotations

from dataclasses import dataclass

from confidant.services import Services
from storage.collections import CollectionSettingsStore
from storage.feedback import FeedbackStore


@dataclass
class AppContext:
    services: Services
    collections: CollectionSettingsStore
    feedback: FeedbackStore

    @classmethod
    def create(cls, services: Services) -> AppContext:
        path = services.settings.registry_path
        return cls(services, CollectionSettingsStore(path), FeedbackStore(path))

    def collection_names(self) -> list[str]:
        """Collections with documents, collections created empty, and the default one."""
        names = set(self.services.registry.collections()) | set(self.collections.names())
        names.add(self.services.settings.default_collection)
        return sorted(names)

    def close(self) -> None:
        self.collections.close()
        self.feedback.close()
