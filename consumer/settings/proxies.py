"""[web] trusted_proxies: comma-separated IP addresses and networks, read one way everywhere."""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
EVERY = "*"  # every address: only where nothing but the proxy can reach the app


def networks(text: str) -> list[Network]:
    """The networks of a valid trusted_proxies value ("*": all of IPv4 and IPv6)."""
    found: list[Network] = []
    for entry in _entries(text):
        if entry == EVERY:
            found += [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
        else:
            found.append(ipaddress.ip_network(entry))  # strict, like gunicorn: no host bits
    return found


def problem(text: str) -> str | None:
    """Why a trusted_proxies value is not valid, or None."""
    bad = []
    for entry in _entries(text):
        if entry != EVERY:
            try:
                ipaddress.ip_network(entry)
            except ValueError:
                bad.append(entry)
    return f"not an IP address or network (no host bits): {', '.join(bad)}" if bad else None


def _entries(text: str) -> list[str]:
    return [e.strip() for e in text.split(",") if e.strip()]
