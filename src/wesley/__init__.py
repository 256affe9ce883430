"""Wesley: a data-layer compiler for PostgreSQL."""

__version__ = "0.1.0"
