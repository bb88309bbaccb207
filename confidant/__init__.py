"""Confidant: ask questions of your own documents, fully offline."""

__version__ = "0.1.0"
