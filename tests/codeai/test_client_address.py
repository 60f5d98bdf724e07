"""The client address of every throttle and of the admin login limit."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from codeai.kernel.client_address import client_address

TRUSTED = ["10.0.0.0/8", "127.0.0.1/32", "fd00::/8"]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        ("203.0.113.9", None, "203.0.113.9"),
        # An untrusted peer's header is the client's own word: ignored.
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),
        # A trusted proxy: the hop it appended.
        ("127.0.0.1", "198.51.100.1", "198.51.100.1"),
        # Hops the client wrote itself, left of the proxy's, change nothing.
        ("127.0.0.1", "1.2.3.4, 5.6.7.8, 198.51.100.1", "198.51.100.1"),
        # Through two trusted proxies: the right-most hop that is not one of them.
        ("10.0.0.5", "1.2.3.4, 198.51.100.1, 10.1.2.3", "198.51.100.1"),
        # Garbage where the client's hop should be: the proxy itself.
        ("127.0.0.1", "1.2.3.4, not-an-address", "127.0.0.1"),
        # A request from inside: every hop trusted, the left-most of them.
        ("127.0.0.1", "10.0.0.7, 10.0.0.8", "10.0.0.7"),
        ("fd00::1", "2001:db8::5", "2001:db8::5"),
        ("127.0.0.1", "", "127.0.0.1"),
    ],
)
def test_client_address(settings, peer, forwarded_for, expected):
    settings.TRUSTED_PROXIES = TRUSTED
    headers = {} if forwarded_for is None else {"HTTP_X_FORWARDED_FOR": forwarded_for}

    request = RequestFactory().get("/", REMOTE_ADDR=peer, **headers)

    assert client_address(request) == expected


def test_no_trusted_proxies_by_default_so_the_header_is_ignored():
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4")

    assert client_address(request) == "127.0.0.1"
