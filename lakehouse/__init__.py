"""Shared machinery of the STEDI lakehouse: configuration, engine session, catalog, I/O and CLI."""

__version__ = "0.1.0"
