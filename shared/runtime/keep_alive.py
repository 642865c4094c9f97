"""Who closes an idle HTTP connection between our own processes: always the client first.

A server closes a kept-alive connection that stayed idle for its keep-alive time. A client
that keeps the connection as long may send a request on it at the moment the server
closes it: the request is lost before any answer (httpx: ``ReadError``/
``RemoteProtocolError``), which the gateway answers 502 and the console shows as a
service out of reach. Seen in the end-to-end bench, whose client kept connections 5 s
against the services' 5 s. So the clients we run (the gateway, the console's upstream
clients) drop idle connections after ``CLIENT_KEEPALIVE_EXPIRY_S``, and no service or
console may be configured to close them sooner than ``MIN_KEEP_ALIVE_S``.
"""

from __future__ import annotations

from typing import Final

#: how long the gateway's and the console's HTTP clients keep an idle connection
CLIENT_KEEPALIVE_EXPIRY_S: Final = 2.0
#: the shortest keep-alive a service or the console may be set to (above the clients')
MIN_KEEP_ALIVE_S: Final = 3
