"""Packaged calendar and deadline-policy data files (read with importlib.resources)."""
