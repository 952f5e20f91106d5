"""The LLM price table: one compact setting in, USD per call out; unknown models are "price unknown" (None),
flagged, never guessed and never $0; free models (0/0) are $0."""

from __future__ import annotations

import logging

import pytest

from handlers.errors import HandlersError
from handlers.llm import BadPriceTable, ModelPrice, PriceTable, Usage


def test_parse_reads_models_and_prices_per_million_tokens() -> None:
    table = PriceTable.parse(" gpt-4o-mini=0.15/0.60 , llama3.1=0/0,")
    assert len(table) == 2
    assert table.price("gpt-4o-mini") == ModelPrice(0.15, 0.60)
    assert table.price("llama3.1") == ModelPrice(0.0, 0.0)
    assert "gpt-4o-mini" in table
    assert "gpt-4o" not in table
    assert table.cost("gpt-4o-mini", Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000)) == pytest.approx(0.75)
    assert table.cost("gpt-4o-mini", Usage(prompt_tokens=1200, completion_tokens=300)) == pytest.approx(0.00036)
    assert table.cost("llama3.1", Usage(prompt_tokens=5000, completion_tokens=5000)) == 0.0
    assert table.unknown_models == frozenset()  # free is not unknown


def test_model_names_may_hold_slashes_colons_and_dots() -> None:
    table = PriceTable.parse("meta-llama/Llama-3.1-8B-Instruct=0.1/0.2,llama3.1:8b=0/0,gpt-4.1-nano=1e-1/4e-1")
    assert table.price("meta-llama/Llama-3.1-8B-Instruct") == ModelPrice(0.1, 0.2)
    assert table.price("llama3.1:8b") == ModelPrice(0.0, 0.0)
    assert table.price("gpt-4.1-nano") == ModelPrice(0.1, 0.4)


@pytest.mark.parametrize("text", ["", "  ", ",", " , "])
def test_an_empty_setting_is_an_empty_table(text: str) -> None:
    assert len(PriceTable.parse(text)) == 0


def test_the_compact_form_round_trips() -> None:
    table = PriceTable.parse("gpt-4o-mini=0.15/0.6,llama3.1:8b=0/0")
    assert str(table) == "gpt-4o-mini=0.15/0.6,llama3.1:8b=0/0"
    assert PriceTable.parse(str(table)).price("gpt-4o-mini") == table.price("gpt-4o-mini")


def test_an_unknown_model_has_no_cost_and_is_flagged_once(caplog: pytest.LogCaptureFixture) -> None:
    table = PriceTable.parse("gpt-4o-mini=0.15/0.60")
    with caplog.at_level(logging.WARNING, logger="handlers.llm"):
        assert table.cost("gpt-4o", Usage(prompt_tokens=100, completion_tokens=10)) is None
        assert table.cost("gpt-4o", Usage(prompt_tokens=100, completion_tokens=10)) is None
        assert table.cost("mistral", Usage(prompt_tokens=1, completion_tokens=1)) is None
    assert table.unknown_models == {"gpt-4o", "mistral"}
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 2
    assert "'gpt-4o'" in warnings[0]
    assert "shown as unknown" in warnings[0] and "gpt-4o=0/0" in warnings[0]


def test_free_is_zero_and_unknown_is_none_even_for_no_tokens() -> None:
    table = PriceTable.parse("llama3.1:8b=0/0")
    assert table.cost("llama3.1:8b", Usage(prompt_tokens=0, completion_tokens=0)) == 0.0
    assert table.cost("llama3.1:8b", Usage(prompt_tokens=10_000, completion_tokens=10_000)) == 0.0
    assert table.cost("llama3.2:3b", Usage(prompt_tokens=0, completion_tokens=0)) is None


def test_an_empty_table_flags_every_model() -> None:
    table = PriceTable()
    assert table.cost("anything", Usage(prompt_tokens=10, completion_tokens=10)) is None
    assert table.unknown_models == {"anything"}


def test_the_table_can_be_built_from_a_mapping() -> None:
    table = PriceTable({"gpt-4o-mini": (0.15, 0.6)})
    assert table.price("gpt-4o-mini") == ModelPrice(0.15, 0.6)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("gpt-4o-mini", "entry 'gpt-4o-mini' is not model=input/output"),
        ("gpt-4o-mini=0.15/0.60;llama=0/0", "'0.15/0.60;llama=0/0' should be two prices"),
        ("=0.15/0.60", "entry '=0.15/0.60' is not model=input/output"),
        ("gpt-4o-mini=0.15", "'0.15' should be two prices, input/output"),
        ("gpt-4o-mini=0.15/0.60/1", "'0.15/0.60/1' should be two prices"),
        ("ok=1/2,gpt-4o-mini=cheap/0.60", "entry 'gpt-4o-mini=cheap/0.60': 'cheap' is not a number"),
        ("gpt-4o-mini=0.15/", "entry 'gpt-4o-mini=0.15/': '' is not a number"),
        ("gpt-4o-mini=-0.15/0.60", "'-0.15' must be a finite number >= 0"),
        ("gpt-4o-mini=0.15/inf", "'inf' must be a finite number >= 0"),
        ("gpt-4o-mini=nan/0.6", "'nan' must be a finite number >= 0"),
        ("a=1/2, a=3/4", "names model 'a' twice"),
    ],
)
def test_a_bad_setting_names_the_bad_part(text: str, names: str) -> None:
    with pytest.raises(BadPriceTable) as caught:
        PriceTable.parse(text)
    assert names in str(caught.value)


def test_bad_price_table_is_a_value_error_of_the_handlers_tree() -> None:
    # a ValueError, so a pydantic settings validator reports it as a readable setting error
    with pytest.raises(ValueError, match="not a number"):
        PriceTable.parse("a=x/1")
    assert issubclass(BadPriceTable, HandlersError)


@pytest.mark.parametrize(
    ("prices", "names"),
    [
        ({"gpt-4o-mini": (-1.0, 0.6)}, "gpt-4o-mini: price -1.0 must be"),
        ({"": (1.0, 1.0)}, "model name '' is empty"),
        ({" padded ": (1.0, 1.0)}, "model name ' padded ' is empty or has surrounding spaces"),
    ],
)
def test_a_bad_mapping_is_refused(prices: dict[str, tuple[float, float]], names: str) -> None:
    with pytest.raises(BadPriceTable) as caught:
        PriceTable(prices)
    assert names in str(caught.value)
