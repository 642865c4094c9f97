"""sla's I/O: reading the calendar registry and the deadline-policy file."""
