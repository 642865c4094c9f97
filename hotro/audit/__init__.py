"""Audit and replay: timeline, verification (seals), replay of read models, export, reports.

Everything here reads the services' own stores (opened with each service's
``build_application``) and, for verification, the seal and event streams. Nothing here
writes to a service's store except ``hotro erase`` (through intake's application)."""
