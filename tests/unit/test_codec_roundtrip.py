"""Every string a request can carry reads back from its node exactly as it was written."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.errors import InvalidArgument
from server.registry import codec


@settings(max_examples=500, deadline=None)
@given(key=st.text(min_size=1), value=st.text())
def test_any_text_round_trips_through_a_node(key: str, value: str) -> None:
    document = {"appName": "a", key: value, "props": {value: key}}
    assert codec.decode(codec.encode(document), "/p") == document


@pytest.mark.parametrize("text", ["a\u0085b", "x\u2028y", "x\u2029y", "\xa0", "\ufeffa", "\x7f", "a\r\nb "])
def test_line_breaks_yaml_would_fold_are_escaped(text: str) -> None:
    assert codec.decode(codec.encode({"k": text}), "/p") == {"k": text}


def test_plain_values_keep_the_form_elasticjob_cloud_3_writes() -> None:
    assert codec.encode({"cron": "0/5 * * * * ?", "description": "", "n": 1.0}) == (
        b"cron: 0/5 * * * * ?\ndescription: ''\nn: 1.0\n"
    )


def test_a_node_over_the_limit_is_refused_naming_its_largest_field() -> None:
    with pytest.raises(InvalidArgument, match="limit") as refused:
        codec.encode({"small": "x", "bootstrapScript": "\x7f" * (codec.MAX_NODE_BYTES // 4 + 1)}, "app")
    assert refused.value.field == "bootstrapScript"
