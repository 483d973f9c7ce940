"""Where webhooks may send: https URLs of public addresses only, so that nobody can make the worker
call this machine, its network or a cloud's metadata service (169.254.169.254) for them.

A URL is checked when it is saved (`refusal_of`), and its host is resolved again and every address
checked at each delivery (`public_addresses`): the request then goes to an address checked, so a
name that resolved to a public address once cannot point the worker elsewhere later (DNS
rebinding). WEBHOOK_ALLOW_PRIVATE_URLS lifts both checks, for development and tests.
"""

import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

URL_MAX_LENGTH = 2000
type Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """The URL's host is not somewhere a webhook may send (its message says why)."""


def refusal_of(url: str) -> str | None:
    """Why `url` may not be a webhook's, or None when it may."""
    if len(url) > URL_MAX_LENGTH:
        return f"Use at most {URL_MAX_LENGTH} characters."
    if any(character.isspace() or not character.isprintable() for character in url):
        return "Not a URL: it holds spaces or control characters (percent-encode them)."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "Not a URL."
    allow_private = settings.WEBHOOK_ALLOW_PRIVATE_URLS
    if parts.scheme not in (("https", "http") if allow_private else ("https",)):
        return "Use an https:// URL." if not allow_private else "Use an https:// or http:// URL."
    if not parts.hostname:
        return "The URL names no host."
    if parts.username is not None or parts.password is not None:
        return "Put no user name or password in the URL; check the signature instead."
    if parts.fragment:
        return "Leave out the #fragment: it is never sent."
    if port == 0:
        return "Port 0 cannot be sent to."
    if allow_private:
        return None
    host = parts.hostname.rstrip(".").lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return "Use a public host: this one names a private network."
    literal = _literal_address(host)
    if literal is not None and not is_public(literal):
        return "Use a public address: this one is private, loopback, link-local or reserved."
    return None


def is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def public_addresses(url: str) -> list[Address]:
    """The addresses of the URL's host, resolved now, for a delivery to go to: every one of them
    public (unless WEBHOOK_ALLOW_PRIVATE_URLS). Raises AddressRefused otherwise, or when the host
    does not resolve."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        found = socket.getaddrinfo(host, _port(parts), type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise AddressRefused(f"{host} does not resolve") from error
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))
    if not addresses:
        raise AddressRefused(f"{host} does not resolve")
    if not settings.WEBHOOK_ALLOW_PRIVATE_URLS and not all(is_public(address) for address in addresses):
        raise AddressRefused(f"{host} resolves to an address that is not public")
    return addresses


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:  # forms the resolver reads as IPv4 too: 2130706433, 0x7f.1, 127.1
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None
