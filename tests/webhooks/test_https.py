"""https targets: the connection goes to the address resolved once, while the certificate is
checked against the URL's name (and SNI sends it). A real TLS receiver on 127.0.0.1 with a
certificate for ``localhost`` made here, trusted through ``SSL_CERT_FILE``."""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.webhooks.conftest import Receiver, _handler
from webhooks import services

pytestmark = pytest.mark.django_db


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_receiver(tmp_path) -> Iterator[tuple[Receiver, Path]]:
    cert_path, key_path = _certificate(tmp_path)
    holder: dict[str, Receiver] = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: _handler(holder["r"])(*a))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    sni: list[str | None] = []
    context.sni_callback = lambda _sock, server_name, _ctx: sni.append(server_name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    holder["r"] = Receiver(port=server.server_address[1])
    holder["r"].sni = sni  # type: ignore[attr-defined]
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder["r"], cert_path
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.WEBHOOK_TIMEOUT = 2.0
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    settings.WEBHOOK_ALLOW_PRIVATE = True


def send(url: str):
    delivery = services.webhook_test(webhook=services.webhook_create(url=url))
    assert services.delivery_claim(delivery_id=delivery.pk)
    return services.delivery_send(delivery_id=delivery.pk)


def test_https_checks_the_certificate_against_the_name_and_sends_sni(tls_receiver, monkeypatch):
    receiver, cert_path = tls_receiver
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))

    delivery = send(f"https://localhost:{receiver.port}/tls")

    assert delivery.success, delivery.last_error
    [request] = receiver.wait_for(1)
    assert request.path == "/tls"
    assert request.headers["Host"] == f"localhost:{receiver.port}"
    assert receiver.sni == ["localhost"]  # type: ignore[attr-defined]


def test_an_untrusted_certificate_is_refused_without_retrying(tls_receiver, settings):
    receiver, _cert_path = tls_receiver
    settings.WEBHOOK_MAX_ATTEMPTS = 3

    delivery = send(f"https://localhost:{receiver.port}/tls")

    assert not delivery.success
    assert delivery.attempts == 1
    assert "CERTIFICATE_VERIFY_FAILED" in delivery.last_error
    assert receiver.received == []


def test_a_certificate_for_another_name_is_refused(tls_receiver, monkeypatch):
    receiver, cert_path = tls_receiver
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))

    delivery = send(f"https://127.0.0.1:{receiver.port}/tls")

    assert not delivery.success
    assert "CERTIFICATE_VERIFY_FAILED" in delivery.last_error
    assert receiver.received == []
