"""Odd input that once escaped as the wrong error: each must be refused with the right domain error."""

from __future__ import annotations

import pytest
from elasticjob.cloud.v1 import job_pb2

from server.api.convert import job_from_request
from server.api.tokens import TokenSigner
from server.domain.errors import ConfigurationError, InvalidArgument, Unauthenticated
from server.registry import codec
from server.settings import Settings
from testkit.harness import json_value


@pytest.mark.parametrize("token", ["é.abc", "abc.é"])
def test_a_non_ascii_token_is_refused_as_unauthenticated(token: str) -> None:
    with pytest.raises(Unauthenticated):
        TokenSigner("x" * 20, 60).verify(token)


def test_a_node_that_is_not_utf8_is_unreadable() -> None:
    with pytest.raises(codec.UnreadableNode):
        codec.decode(b"\xff\xfe", "/p")


def test_a_superscript_digit_as_sharding_item_is_an_invalid_argument() -> None:
    request = job_pb2.JobConfigRequest(
        job_name="j",
        app_name="a",
        cpu_count=json_value(1),
        memory_mb=json_value(128),
        job_execution_type="TRANSIENT",
        sharding_total_count=json_value(3),
        sharding_item_parameters="²=a",
    )
    with pytest.raises(InvalidArgument):
        job_from_request(request)


@pytest.mark.parametrize("variable", ["ELASTICJOB_TOKEN_TTL_SECONDS", "ELASTICJOB_ZK_TIMEOUT_SECONDS"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_non_finite_number_setting_is_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_environment({"ELASTICJOB_MODE": "development", variable: value})
