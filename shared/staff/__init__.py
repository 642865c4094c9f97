"""Identity: staff users, roles, passwords, API tokens, signed staff assertions, console
sessions, customer capabilities and the endpoint policies of every service's HTTP API.
The model and its threat model: docs/security.md ("Identity")."""
