"""Staff users, roles and API-token authentication, shared by every service's HTTP API."""
