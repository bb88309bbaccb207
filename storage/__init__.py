"""Where chunks, documents and their states are kept."""
