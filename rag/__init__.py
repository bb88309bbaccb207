"""Retrieval and answering."""
