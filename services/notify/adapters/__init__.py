"""Notify's I/O: the channels (email over SMTP or to a Maildir, SMS through a webhook,
printed letters as PDF) and the message templates."""
