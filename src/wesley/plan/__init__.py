"""Planning: diff two IRs into a phased, lock-aware migration (DESIGN §5)."""
