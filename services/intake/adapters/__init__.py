"""Intake's I/O: inbound email (parsing, file stores, SMTP listener, IMAP poller, the
front door both feed), the hotline webhook's signatures and the reference-data files."""
