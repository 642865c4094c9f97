"""Routing's domain: the case workflow, who may act on it, triage rules and reference
data. Pure: no I/O (config files are read by ``adapters``) and no clock (times are passed
in)."""
