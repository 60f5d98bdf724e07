"""One webhook POST: the target resolved once, the connection made to that address (the
``Host`` header and, for https, the certificate check and SNI keep the name), a bounded read
of the answer. Plain ``http.client``: no redirects are followed, no proxy is used."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

USER_AGENT = "CodeAI-Webhook/1.0"
SIGNATURE_HEADER = "X-Webhook-Signature"
ALGORITHM_HEADER = "X-Webhook-Signature-Algorithm"
DEFAULT_PORTS = {"http": 80, "https": 443}


class TargetRefused(Exception):
    """The URL is not http(s), or it resolves to an address the operator refuses."""


class TargetUnreachable(OSError):
    """The target's name does not resolve."""


@dataclass(frozen=True)
class Answer:
    status: int
    excerpt: str


def split_target(url: str) -> SplitResult:
    """The URL's parts; only http and https with a host name are accepted."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise TargetRefused("only http and https URLs are accepted")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("credentials in the URL are not accepted; use headers")
    parts.port  # noqa: B018 - raises ValueError for a port out of range
    return parts


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a target: what names it in metrics and logs (a path or
    query can carry a token, as chat webhooks' do)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port and parts.port != DEFAULT_PORTS.get(parts.scheme) else ""
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{port}"


def sign(body: bytes, secret: str) -> str:
    """Hex HMAC-SHA256 of the exact body with the webhook's secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int, *, allow_private: bool) -> str:
    """The one address this delivery connects to; refused when it is not public and
    private targets are not allowed."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise TargetUnreachable(f"cannot resolve {host}: {error.strerror}") from None
    address = str(found[0][4][0])
    if not allow_private and not is_public(address):
        raise TargetRefused(
            f"{host} resolves to {address}, a private or loopback address "
            "(CODEAI_WEBHOOK_ALLOW_PRIVATE=off)"
        )
    return address


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to an address already resolved, checking the certificate against the name."""

    def __init__(self, address: str, port: int, *, server_hostname: str, timeout: float):
        super().__init__(address, port, timeout=timeout, context=ssl.create_default_context())
        self.server_hostname = server_hostname

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(  # type: ignore[attr-defined]
            sock, server_hostname=self.server_hostname
        )


@dataclass(frozen=True)
class Target:
    """A webhook URL with the one address its deliveries connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def target(url: str, *, allow_private: bool) -> Target:
    """Check the URL and resolve its host once (raises TargetRefused, TargetUnreachable)."""
    parts = split_target(url)
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    address = resolve(host, port, allow_private=allow_private)
    return Target(parts.scheme, host, port, path, address)


def _cut(connection: http.client.HTTPConnection, expired: threading.Event) -> None:
    """The attempt's whole time is up: end the connection, which ends any read of it."""
    expired.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def post(
    to: Target, body: bytes, headers: dict[str, str], *, timeout: float, excerpt_chars: int
) -> Answer:
    """POST ``body`` to the target's address; raises OSError (connection, timeout).

    ``timeout`` bounds the connect and each read, and twice it the whole attempt: a target
    that answers a byte at a time cannot hold a worker for longer."""
    connection: http.client.HTTPConnection
    if to.scheme == "https":
        connection = _PinnedHTTPSConnection(
            to.address, to.port, server_hostname=to.host, timeout=timeout
        )
    else:
        connection = http.client.HTTPConnection(to.address, to.port, timeout=timeout)
    expired = threading.Event()
    watchdog = threading.Timer(2 * timeout, _cut, (connection, expired))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", to.path, body=body, headers={"Host": to.host_header, **headers})
        response = connection.getresponse()
        # A bounded read: a huge answer costs no more than its excerpt.
        text = response.read(excerpt_chars * 4).decode("utf-8", errors="replace")
        if expired.is_set():
            raise TimeoutError("timed out")
        return Answer(response.status, text[:excerpt_chars])
    except (OSError, http.client.HTTPException) as error:
        if expired.is_set():
            raise TimeoutError("timed out") from None
        if isinstance(error, OSError):
            raise
        raise ConnectionError(f"bad HTTP answer: {type(error).__name__}") from None
    finally:
        watchdog.cancel()
        connection.close()
