"""The API's JSON renderer writes what DRF's writes, with orjson (codeai.kernel.api.renderers)."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import json
import uuid

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer

from codeai.kernel.api.renderers import JSONRenderer

MOMENT = datetime.datetime(2026, 12, 4, 18, 0, 0, 123456, tzinfo=datetime.UTC)


@dataclasses.dataclass
class Point:
    x: int


def both(data, accepted_media_type=None, renderer_context=None):
    ours = JSONRenderer().render(data, accepted_media_type, renderer_context)
    drf = DRFJSONRenderer().render(data, accepted_media_type, renderer_context)
    return ours, drf


def test_a_page_is_the_same_bytes_as_drf_writes():
    page = {
        "data": [
            {
                "id": str(uuid.uuid4()),
                "name": f'naïve-{number} ☃ "quoted" \\ \n\t\x01',
                "count": number,
                "ratio": 0.1 * number,
                "on": number % 2 == 0,
                "none": None,
                "nested": {"list": [1, "two", [3.5, {}]], "empty": []},
            }
            for number in range(20)
        ],
        "count": 20,
        "next": None,
    }
    ours, drf = both(page)
    assert ours == drf


def test_what_orjson_does_not_write_as_drf_goes_to_drf_encoder():
    data = {
        "moment": MOMENT,
        "naive": MOMENT.replace(tzinfo=None),
        "date": MOMENT.date(),
        "time": MOMENT.time(),
        "duration": datetime.timedelta(seconds=90),
        "decimal": decimal.Decimal("1.50"),
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "lazy": gettext_lazy("a lazy string"),
        "bytes": b"raw",
        "tuple": (1, 2),
    }
    ours, drf = both(data)
    assert ours == drf
    assert json.loads(ours)["moment"] == "2026-12-04T18:00:00.123456Z"


def test_line_and_paragraph_separators_are_escaped_as_drf_does():
    ours, drf = both({"text": "a\u2028b\u2029c"})
    assert ours == drf == b'{"text":"a\\u2028b\\u2029c"}'


@pytest.mark.parametrize(
    "data",
    [
        {"huge": 2**70},  # past orjson's 64 bits
        {1: "a key that is not a string"},
        {"point": Point(1)},  # neither encoder writes a dataclass
    ],
    ids=["huge-integer", "integer-key", "dataclass"],
)
def test_what_orjson_refuses_takes_drf_path(data):
    try:
        drf = DRFJSONRenderer().render(data)
    except TypeError as error:
        with pytest.raises(TypeError, match=str(error)):
            JSONRenderer().render(data)
    else:
        assert JSONRenderer().render(data) == drf


def test_indented_json_asked_for_is_drf_own():
    data = {"a": [1, {"b": None}]}
    ours, drf = both(data, "application/json; indent=4")
    assert ours == drf
    assert b"\n    " in ours


def test_nothing_is_empty_bytes():
    assert JSONRenderer().render(None) == b""


def test_a_float_in_exponent_form_is_the_same_number():
    ours, drf = both({"big": 1e16, "small": 1.5e-7, "tiny": 1e-5, "plain": 12.25})
    assert json.loads(ours) == json.loads(drf)
    assert ours == b'{"big":1e+16,"small":1.5e-7,"tiny":0.00001,"plain":12.25}'
    assert drf == b'{"big":1e+16,"small":1.5e-07,"tiny":1e-05,"plain":12.25}'
