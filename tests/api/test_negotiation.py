"""The renderer of a response is DRF's choice, worked out once per Accept header, format and
renderer classes (codeai.kernel.api.negotiation)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request

from codeai.kernel.api.negotiation import ContentNegotiation, _choice


def request(accept: str | None, query: str = "") -> Request:
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    return Request(RequestFactory().get(f"/api/v1/configs/{query}", **headers))


@pytest.mark.parametrize(
    ("accept", "query"),
    [
        (None, ""),
        ("*/*", ""),
        ("application/json", ""),
        ("application/json; indent=4", ""),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", ""),
        ("text/html", ""),
        ("*/*", "?format=json"),
        ("*/*", "?format=api"),
        ("application/*;q=0.5, text/html;q=0.9", ""),
    ],
)
def test_the_choice_is_drf_own(accept, query):
    renderers = [JSONRenderer(), BrowsableAPIRenderer()]
    ours = ContentNegotiation().select_renderer(request(accept, query), renderers)
    drf = DefaultContentNegotiation().select_renderer(request(accept, query), renderers)
    assert (type(ours[0]), ours[1]) == (type(drf[0]), drf[1])
    assert ours[0] in renderers  # the view's own renderer, not the remembered one


def test_an_unacceptable_type_is_refused_every_time():
    for _ in range(2):
        with pytest.raises(NotAcceptable):
            ContentNegotiation().select_renderer(request("image/png"), [JSONRenderer()])


def test_the_remembered_choices_are_bounded_whatever_clients_send():
    for number in range(600):
        ContentNegotiation().select_renderer(
            request(f"application/json; x={number}"), [JSONRenderer()]
        )
    assert _choice.cache_info().currsize <= 256


def test_an_api_client_gets_json_and_a_browser_the_browsable_page(client_for):
    client = client_for("viewer")
    assert client.get("/api/v1/configs/", HTTP_ACCEPT="*/*")["Content-Type"] == "application/json"
    page = client.get("/api/v1/configs/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
