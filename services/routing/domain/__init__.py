"""Routing's domain: the case workflow, who may act on it, and triage rules. Pure: no I/O
except reading the config files handed to the loaders, and no clock (times are passed in)."""
