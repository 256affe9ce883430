"""Evidence: which generated lines prove which schema element, and the bundle of hashes."""
