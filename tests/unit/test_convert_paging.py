"""Paging of the List methods (AIP-158, "Pagination"): page_size 0 answers everything, a token
continues after the last item of its page even when items came or went in between, and a size or
token the server did not issue is refused naming the field."""

from __future__ import annotations

import pytest

from server.api.convert import MAX_PAGE_SIZE, page
from server.domain.errors import InvalidArgument


def _key(name: str) -> str:
    return name


def test_page_size_zero_answers_every_item_in_key_order_without_a_token() -> None:
    assert page(["c", "a", "b"], _key, 0, "") == (["a", "b", "c"], "")


def test_pages_cover_every_item_once_and_the_last_has_no_token() -> None:
    items = [f"job{index:02d}" for index in range(7)]
    seen: list[str] = []
    token = ""
    while True:
        chosen, token = page(items, _key, 3, token)
        seen += chosen
        if not token:
            break
    assert seen == items


def test_a_page_exactly_at_the_end_has_no_token() -> None:
    assert page(["a", "b"], _key, 2, "") == (["a", "b"], "")


def test_a_token_continues_after_its_item_when_that_item_is_gone() -> None:
    first, token = page(["a", "b", "c", "d"], _key, 2, "")
    assert first == ["a", "b"]
    second, _ = page(["a", "c", "d", "e"], _key, 2, token)  # "b" removed, "e" added meanwhile
    assert second == ["c", "d"]


def test_a_page_size_above_the_maximum_is_read_as_the_maximum() -> None:
    items = [f"{index:05d}" for index in range(MAX_PAGE_SIZE + 5)]
    chosen, token = page(items, _key, MAX_PAGE_SIZE + 100, "")
    assert len(chosen) == MAX_PAGE_SIZE and token


@pytest.mark.parametrize(
    ("size", "token", "field"), [(-1, "", "pageSize"), (1, "%%%", "pageToken"), (1, "/w==", "pageToken")]
)
def test_a_bad_size_or_token_is_refused_naming_the_field(size: int, token: str, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        page(["a"], _key, size, token)
    assert caught.value.field == field
