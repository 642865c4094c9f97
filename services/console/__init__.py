"""The staff console and the customer's page: server-rendered pages (Jinja2 + htmx) that
read and act on the services' HTTP APIs with the signed-in person's rights. It keeps no
copy of the truth: every page is built from the services' answers, every action is a call
to a service."""
