"""Endpoint URLs: what a tenant may point the webhooks at.

A webhook is a request the server makes to an address a tenant chose, so
an admin could aim it at the server's own network (server-side request
forgery: a cloud metadata service, a database's HTTP port). URLs must be
http or https without credentials, and an address that is loopback,
private, link-local or otherwise not public is refused, when the endpoint is
saved and again before each request (a name may resolve elsewhere later),
unless the operator allows it in ``GUANXI_WEBHOOKS_ALLOWED_HOSTS``
(``Settings.webhooks_allowed_hosts``): a comma list of host names and
networks (``sms.store.lan,10.20.0.0/16,127.0.0.1``) for the air-gapped store
network whose providers are local.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urlsplit

from engine.errors import FieldError, ValidationFailed

ALLOWED_HOSTS_VARIABLE = "GUANXI_WEBHOOKS_ALLOWED_HOSTS"
MAX_URL_LENGTH = 2000
_RESOLVED_FOR_SECONDS = 60.0
_resolved: dict[str, tuple[float, list]] = {}


def _allowed(allowed_hosts) -> tuple[set[str], list]:
    names, networks = set(), []
    for item in allowed_hosts:
        item = item.strip().lower()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            names.add(item)
    return names, networks


def _public(address) -> bool:
    return address.is_global and not address.is_multicast


def _addresses(host: str) -> list:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    cached = _resolved.get(host)
    if cached and time.monotonic() - cached[0] < _RESOLVED_FOR_SECONDS:
        return cached[1]
    try:
        found = sorted({info[4][0] for info in socket.getaddrinfo(host, None)})
    except OSError:
        found = []
    addresses = [ipaddress.ip_address(a.split("%")[0]) for a in found]
    _resolved[host] = (time.monotonic(), addresses)
    return addresses


def refusal(url: str, allowed_hosts=()) -> str | None:
    """Why the server may not send to ``url`` now, or None (``allowed_hosts``: Settings.webhooks_allowed_hosts)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    names, networks = _allowed(allowed_hosts)
    if host in names:
        return None
    for address in _addresses(host):
        if not _public(address) and not any(address in network for network in networks):
            return (f"{host} is a non-public address ({address}); the operator can allow it with "
                    f"{ALLOWED_HOSTS_VARIABLE}")
    return None


def check_url(url: str, allowed_hosts=(), field: str = "url") -> str:
    """The URL as stored, or ValidationFailed naming ``field``."""
    url = (url or "").strip()
    problem = None
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a bad port
    except ValueError as error:
        parts, port, problem = None, None, f"not a URL: {error}"
    if problem is None:
        if len(url) > MAX_URL_LENGTH:
            problem = f"must be at most {MAX_URL_LENGTH} characters"
        elif parts.scheme not in ("http", "https"):
            problem = "must be an http:// or https:// URL"
        elif not parts.hostname:
            problem = "must name a host"
        elif parts.username is not None or parts.password is not None:
            problem = "must not carry credentials (user:password@); the signature authenticates the sender"
        elif parts.fragment:
            problem = "must not have a #fragment"
        elif any(ch.isspace() for ch in url):
            problem = "must not contain spaces"
        else:
            problem = refusal(url, allowed_hosts)
    if problem:
        raise ValidationFailed([FieldError(field, problem)])
    del port
    return url
