"""`parse` blames the provider's data; the exporter's own bugs are `internal`.

The reason a failed collection is counted under decides who gets paged and what the runbook
says to do, so a KeyError in the exporter's own code must not read as "the API changed".
"""

from __future__ import annotations

import json

import pytest

from cost_exporter import focus_records, health, periods
from cost_exporter.errors import CollectorError
from cost_exporter.providers import supabase
from cost_exporter.samples import BadAmount, to_decimal


def raised(call: object, *args: object) -> BaseException:
    with pytest.raises(Exception) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


def reason(exc: BaseException) -> str:
    return health.classify(exc)[0]


def test_a_payload_of_the_wrong_shape_read_by_a_provider_is_parse() -> None:
    missing = raised(supabase.accrued, {"interval": "monthly"}, 3, 30)
    assert isinstance(missing, KeyError)
    assert reason(missing) == "parse"
    not_a_mapping = raised(supabase.accrued, ["amount"], 3, 30)
    assert isinstance(not_a_mapping, TypeError)
    assert reason(not_a_mapping) == "parse"


def test_the_exporters_own_key_type_and_index_errors_are_internal() -> None:
    # A core helper called the wrong way is our bug, whoever called it.
    wrong_call = raised(periods.month_start, None)
    assert isinstance(wrong_call, AttributeError)
    assert reason(wrong_call) == "internal"
    assert health.classify(wrong_call)[1].startswith("AttributeError:")
    # Raised outside any module of the exporter (a test double here): nothing blames a
    # provider module, so nothing blames the provider.
    for exc in (KeyError("total"), TypeError("x"), IndexError("y"), ValueError("z")):
        assert reason(exc) == "internal"
        assert reason(raised(throw, exc)) == "internal"


def throw(exc: BaseException) -> None:
    raise exc


def test_provider_data_errors_are_parse_wherever_they_are_raised() -> None:
    assert reason(raised(to_decimal, "twelve")) == "parse"
    assert isinstance(raised(to_decimal, "twelve"), BadAmount)
    assert reason(raised(focus_records.parse_timestamp, "yesterday")) == "parse"
    assert reason(raised(json.loads, "{not json")) == "parse"
    assert reason(CollectorError("parse", "response is not valid JSON")) == "parse"


def test_a_collector_error_keeps_its_reason_and_a_timeout_is_timeout() -> None:
    assert health.classify(CollectorError("auth", "HTTP 401")) == ("auth", "HTTP 401")
    assert reason(TimeoutError()) == "timeout"
    assert reason(RuntimeError("boom")) == "internal"
