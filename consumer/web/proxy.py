"""Behind a reverse proxy: X-Forwarded-For and -Proto are believed only from [web] trusted_proxies.

gunicorn gets the same list as --forwarded-allow-ips (the scheme it reports); this WSGI
middleware applies werkzeug's ProxyFix only to a request whose peer is a trusted proxy, so
request.remote_addr (the admin trail's "by", every logged client address, gunicorn's access
log included, which reads the same environ) is the client's address behind a trusted proxy
and the peer's own address otherwise: anyone else can write any X-Forwarded-For.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.middleware.proxy_fix import ProxyFix

from consumer.settings.proxies import Network

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def trusted(address: str | None, nets: Iterable[Network]) -> bool:
    """Whether address (a peer or a forwarded hop) lies in one of nets."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in nets)


class TrustedProxyFix:
    """ProxyFix for requests from a trusted proxy; every other request is left as it came.

    Hops are counted from the right of X-Forwarded-For while they are trusted proxies too, so
    a chain of trusted proxies yields the address the first of them saw.
    """

    def __init__(self, app: WSGIApplication, nets: list[Network]) -> None:
        self.app, self.nets = app, nets

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        """Serve one request, with the forwarded client address when its peer is trusted."""
        if not self.nets or not trusted(environ.get("REMOTE_ADDR"), self.nets):
            return self.app(environ, start_response)
        hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        count = 1
        while count < len(hops) and trusted(hops[-count], self.nets):
            count += 1
        fix = ProxyFix(self.app, x_for=count, x_proto=1)
        return fix(environ, start_response)
