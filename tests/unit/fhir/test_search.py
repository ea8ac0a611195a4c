"""SearchParams encoding: modifiers, prefixes, chains, includes, identifiers, immutability."""

from __future__ import annotations

import datetime as dt

import pytest

from twiin.errors import ConfigurationError
from twiin.fhir import SearchParams
from twiin.identifiers import Bsn, Ura


def test_where_modifier_prefix_and_or_lists() -> None:
    query = (
        SearchParams()
        .where("name", "Jan de Vries", modifier="contains")
        .where("date", ["2024-01-01", "2024-02-01"], prefix="ge")
        .where("status", ["requested", "accepted"])
    )
    assert (
        query.to_query()
        == "name:contains=Jan+de+Vries&date=ge2024-01-01,ge2024-02-01&status=requested,accepted"
    )


def test_identifier_tokens_chains_and_reverse_chains() -> None:
    query = (
        SearchParams()
        .where("patient.identifier", Bsn("999999151"))
        .chain(["organization", "identifier"], Ura("12345678"))
        .has("Observation", "patient", "code", "1234-5")
    )
    assert query.get_all("organization.identifier") == ["http://fhir.nl/fhir/NamingSystem/ura|12345678"]
    assert "_has:Observation:patient:code=1234-5" in query.to_query()
    assert "patient.identifier=http://fhir.nl/fhir/NamingSystem/bsn|999999151" in query.to_query()


def test_result_parameters_replace_rather_than_repeat() -> None:
    query = SearchParams().count(10).count(20).sort("-date", "name").include("Organization:endpoint")
    query = (
        query.revinclude("Endpoint:organization", iterate=True)
        .elements("id", "name")
        .summary("count")
        .total()
    )
    assert query.get_all("_count") == ["20"]
    text = query.to_query()
    assert "_sort=-date,name" in text
    assert "_include=Organization:endpoint" in text
    assert "_revinclude:iterate=Endpoint:organization" in text
    assert "_total=accurate" in text


def test_last_updated_and_dates() -> None:
    when = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
    assert SearchParams().last_updated(when, "gt").get_all("_lastUpdated") == ["gt2024-05-01T10:00:00+00:00"]
    assert SearchParams().where("birthdate", dt.date(2000, 1, 2)).to_query() == "birthdate=2000-01-02"
    with pytest.raises(ConfigurationError):
        SearchParams().where("date", dt.datetime(2024, 1, 1))  # naive datetimes are ambiguous
    with pytest.raises(ConfigurationError):
        SearchParams().where("date", "2024", prefix="xx")


def test_of_and_parse() -> None:
    assert SearchParams.of({"identifier": ["a|1", "b|2"], "active": True}).items == (
        ("identifier", "a|1"),
        ("identifier", "b|2"),
        ("active", "true"),
    )
    assert SearchParams.of([("a", 1), ("a", 2)]).to_query() == "a=1&a=2"
    assert SearchParams.parse("?a=1&b=x%7Cy").items == (("a", "1"), ("b", "x|y"))
    assert SearchParams.of(None) == SearchParams()
    assert not SearchParams()
    with pytest.raises(ConfigurationError):
        SearchParams.of({"a&b": 1})
    with pytest.raises(ConfigurationError):
        SearchParams().where("x", object())
    with pytest.raises(ConfigurationError):
        SearchParams().count(-1)


def test_immutable_builder() -> None:
    base = SearchParams().where("status", "requested")
    refined = base.count(5)
    assert base.items == (("status", "requested"),)
    assert refined is not base
    assert str(refined) == "status=requested&_count=5"
