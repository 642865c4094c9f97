"""Routing's I/O beyond the store and HTTP: reading its configuration files."""
