"""Generated messages for every method of AuthService, AppService and JobService, sent over a real
gRPC channel straight to the server (no Envoy), on the real ZooKeeper.

gRPC clients can send what JSON cannot (NaN and infinite numbers, any bytes as a raw body, any
``Value`` kind), so these are checked here. Properties: a call ends OK or with a client-error
status (never UNKNOWN, INTERNAL, RESOURCE_EXHAUSTED or UNAVAILABLE while ZooKeeper is up) whose
message is short; a call without a valid token is UNAUTHENTICATED; a refused call changes no node;
the server keeps its ZooKeeper session; what an accepted call stored reads back exactly, numbers
and booleans as the JSON model reads them. Bounded by ``max_examples`` (deadline off).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from elasticjob.cloud.v1 import app_pb2, app_pb2_grpc, auth_pb2, auth_pb2_grpc, job_pb2, job_pb2_grpc
from google.api import httpbody_pb2
from google.protobuf import struct_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kazoo.client import KazooClient

from server.domain.app import DEFAULT_APP_CPU_COUNT, DEFAULT_APP_MEMORY_MB
from server.registry.apps import AppRepository
from server.registry.jobs import JobRepository
from testkit.harness import Stack, grpc_metadata, snapshot, unique_name

from .models import (
    INVALID,
    NOT_SENT,
    crons,
    expected_boolean,
    expected_integer,
    expected_number,
    json_values,
    names,
    scripts,
    urls,
)

# The server runs in this process; its threads (kazoo's retry jitter) use ``random`` while
# Hypothesis draws, which it reports as a strategy using ``random``. None of these strategies does.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module:hypothesis.errors.HypothesisDeprecationWarning"
)

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CLIENT_ERRORS = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
}
SHORT_MESSAGE = 1024

# Plain values for Value fields: JSON's, plus what only a binary client can send.
plain_values = st.one_of(
    json_values,
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.floats(),
)


def as_value(plain: object) -> struct_pb2.Value:
    """``plain`` as a Value, NaN and infinities included (JSON parsing would refuse them)."""
    if plain is None:
        return struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)
    if isinstance(plain, bool):
        return struct_pb2.Value(bool_value=plain)
    if isinstance(plain, int | float):
        return struct_pb2.Value(number_value=float(plain))
    if isinstance(plain, str):
        return struct_pb2.Value(string_value=plain)
    if isinstance(plain, list):
        return struct_pb2.Value(list_value=struct_pb2.ListValue(values=[as_value(item) for item in plain]))
    assert isinstance(plain, dict)
    return struct_pb2.Value(struct_value=struct_pb2.Struct(fields={k: as_value(v) for k, v in plain.items()}))


def value_fields(field_names: Iterator[str] | dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A generated plain value for each Value field (``None`` is sent as JSON null)."""
    return st.fixed_dictionaries({name: plain_values for name in field_names})


APP_VALUES = {
    "cpu_count": (expected_number, DEFAULT_APP_CPU_COUNT),
    "memory_mb": (expected_number, DEFAULT_APP_MEMORY_MB),
    "app_cache_enable": (expected_boolean, True),
    "event_trace_sampling_count": (expected_integer, 0),
}
JOB_VALUES = {
    "cpu_count": (expected_number, None),
    "memory_mb": (expected_number, None),
    "sharding_total_count": (expected_integer, None),
    "failover": (expected_boolean, False),
    "misfire": (expected_boolean, False),
}


def expectations(sent: dict[str, Any], table: dict[str, Any], previous: object = None) -> dict[str, object]:
    """The model's reading of every Value field that was set: INVALID, or the value to be stored."""
    expected: dict[str, object] = {}
    for name, plain in sent.items():
        expected_of, default = table[name]
        reading = expected_of(plain)
        if reading is NOT_SENT:
            reading = getattr(previous, name) if previous is not None else default
        expected[name] = reading
    return expected


def sent_values(drawn: dict[str, Any], unset: set[str]) -> dict[str, Any]:
    """The Value fields to set on the message: those not drawn as unset."""
    return {name: as_value(plain) for name, plain in drawn.items() if name not in unset}


@pytest.fixture
def channel(stack: Stack) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(stack.grpc_target) as opened:
        yield opened


@pytest.fixture
def app_name(stack: Stack, token: str, channel: grpc.Channel) -> str:
    name = unique_name("grpcfuzzapp")
    app_pb2_grpc.AppServiceStub(channel).PublishApp(
        app_pb2.PublishAppRequest(app_name=name, app_url="http://h/a.tgz", bootstrap_script="run.sh"),
        metadata=grpc_metadata(token),
        timeout=10,
    )
    return name


tokens = st.sampled_from(["valid", "valid", "valid", "none", "garbage"])


def metadata_for(kind: str, token: str) -> tuple[tuple[str, str], ...]:
    if kind == "valid":
        return grpc_metadata(token)
    if kind == "garbage":
        return grpc_metadata("eyJzdWIiOiJyb290In0.AAAA")
    return ()


def call(method: Callable[..., Any], request: Any, metadata: tuple[tuple[str, str], ...]) -> tuple[Any, Any]:
    """``(reply, status code)``; the status message is checked here for size."""
    try:
        return method(request, metadata=metadata, timeout=10), grpc.StatusCode.OK
    except grpc.RpcError as exc:
        assert len(exc.details() or "") < SHORT_MESSAGE, len(exc.details() or "")
        return None, exc.code()


def check_code(code: Any, token_kind: str) -> None:
    assert code in CLIENT_ERRORS, code
    if token_kind != "valid":
        assert code == grpc.StatusCode.UNAUTHENTICATED, code


@FUZZ
@given(
    username=st.sampled_from(["root"]) | st.text(max_size=50),
    password=st.sampled_from(["pwd"]) | st.text(max_size=50),
)
def test_login_answers_a_token_for_the_right_pair_and_unauthenticated_otherwise(
    stack: Stack, channel: grpc.Channel, username: str, password: str
) -> None:
    reply, code = call(
        auth_pb2_grpc.AuthServiceStub(channel).Login,
        auth_pb2.LoginRequest(username=username, password=password),
        (),
    )
    right = (username, password) == (stack.settings.auth_username, stack.settings.auth_password)
    assert code == (grpc.StatusCode.OK if right else grpc.StatusCode.UNAUTHENTICATED)
    if right:
        assert reply.access_token


@FUZZ
@given(data=st.data())
def test_publish_and_modify_app_over_grpc(
    stack: Stack, token: str, zk: KazooClient, channel: grpc.Channel, app_name: str, data: st.DataObject
) -> None:
    stub = app_pb2_grpc.AppServiceStub(channel)
    modify = data.draw(st.booleans(), "modify")
    drawn = data.draw(value_fields(APP_VALUES), "values")
    unset = {name for name in drawn if data.draw(st.booleans(), f"unset {name}")}
    token_kind = data.draw(tokens, "token")
    previous = None
    if modify:
        strings = data.draw(
            st.fixed_dictionaries({}, optional={"app_url": urls, "bootstrap_script": scripts}), "strings"
        )
        name = data.draw(st.just(app_name) | names, "name")
        if name == app_name:
            previous = AppRepository(stack.registry).get(app_name).app
        request: Any = app_pb2.ModifyAppRequest(app_name=name, **strings, **sent_values(drawn, unset))
        method = stub.ModifyApp
    else:
        strings = {
            "app_url": data.draw(urls, "url"),
            "bootstrap_script": data.draw(scripts, "script"),
        }
        name = data.draw(names, "name")
        request = app_pb2.PublishAppRequest(app_name=name, **strings, **sent_values(drawn, unset))
        method = stub.PublishApp
    session = stack.registry.client.client_id
    before = snapshot(zk, stack.paths.root)

    reply, code = call(method, request, metadata_for(token_kind, token))

    check_code(code, token_kind)
    expected = expectations({k: v for k, v in drawn.items() if k not in unset}, APP_VALUES, previous)
    if code == grpc.StatusCode.OK:
        assert not modify or previous is not None, name  # only the fixture's app exists to modify
        stored = AppRepository(stack.registry).get(name).app
        for attribute, value in strings.items():
            assert getattr(stored, attribute) == value
        for attribute, value in expected.items():
            assert value is not INVALID, (attribute, drawn[attribute])
            assert getattr(stored, attribute) == value and type(getattr(stored, attribute)) is type(value)
        assert (reply.app_cache_enable, reply.cpu_count) == (stored.app_cache_enable, stored.cpu_count)
    else:
        if token_kind == "valid" and INVALID in expected.values():
            assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, drawn)
        assert snapshot(zk, stack.paths.root) == before
    assert stack.registry.client.client_id == session


props_structs = st.dictionaries(st.text(max_size=20), json_values, max_size=4)


@FUZZ
@given(data=st.data())
def test_register_and_update_job_over_grpc(
    stack: Stack, token: str, zk: KazooClient, channel: grpc.Channel, app_name: str, data: st.DataObject
) -> None:
    stub = job_pb2_grpc.JobServiceStub(channel)
    drawn = data.draw(value_fields(JOB_VALUES), "values")
    unset = {name for name in drawn if data.draw(st.booleans(), f"unset {name}")}
    props = data.draw(st.none() | props_structs, "props")
    strings = {
        "app_name": data.draw(st.just(app_name) | names, "app"),
        "job_name": data.draw(names, "job"),
        "job_execution_type": data.draw(st.sampled_from(["TRANSIENT", "DAEMON", "daemon", ""]) | st.text()),
        "cron": data.draw(crons, "cron"),
        "sharding_item_parameters": data.draw(st.sampled_from(["", "0=a", "0=a,1=b", "7=x"]) | st.text()),
        "job_parameter": data.draw(st.text(max_size=100), "parameter"),
        "description": data.draw(st.text(max_size=100), "description"),
    }
    handlers = {
        name: as_value(
            data.draw(st.sampled_from([False, "CPU", "SINGLE_THREAD", "LOG", "THROW"]) | plain_values)
        )
        for name in ("job_executor_service_handler_type", "job_error_handler_type")
        if data.draw(st.booleans(), f"send {name}")
    }
    request = job_pb2.JobConfigRequest(
        **strings,
        **sent_values(drawn, unset),
        **handlers,
        **(
            {"props": struct_pb2.Struct(fields={k: as_value(v) for k, v in props.items()})}
            if props is not None
            else {}
        ),
    )
    method = data.draw(st.sampled_from([stub.RegisterJob, stub.UpdateJob]), "method")
    token_kind = data.draw(tokens, "token")
    session = stack.registry.client.client_id
    before = snapshot(zk, stack.paths.root)

    reply, code = call(method, request, metadata_for(token_kind, token))

    check_code(code, token_kind)
    expected = expectations({k: v for k, v in drawn.items() if k not in unset}, JOB_VALUES)
    if code == grpc.StatusCode.OK:
        stored = JobRepository(stack.registry).get(strings["job_name"])
        assert (stored.job_parameter, stored.description) == (
            strings["job_parameter"],
            strings["description"],
        )
        assert stored.cron == strings["cron"].strip()
        for attribute, value in expected.items():
            assert value is not INVALID, (attribute, drawn[attribute])
            if value is not None:
                assert getattr(stored, attribute) == value and type(getattr(stored, attribute)) is type(value)
        assert dict(stored.props) == (props or {})
        assert (reply.failover, reply.sharding_total_count) == (stored.failover, stored.sharding_total_count)
    else:
        if token_kind == "valid" and INVALID in expected.values():
            assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, drawn)
        assert snapshot(zk, stack.paths.root) == before
    assert stack.registry.client.client_id == session


@FUZZ
@given(
    data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
    content_type=st.sampled_from(["application/json", "text/plain", ""]) | st.text(max_size=30),
    token_kind=tokens,
)
def test_trigger_and_deregister_over_grpc_answer_a_client_status_for_any_body(
    stack: Stack,
    token: str,
    zk: KazooClient,
    channel: grpc.Channel,
    data: bytes,
    content_type: str,
    token_kind: str,
) -> None:
    stub = job_pb2_grpc.JobServiceStub(channel)
    body = httpbody_pb2.HttpBody(content_type=content_type, data=data)
    session = stack.registry.client.client_id
    before = snapshot(zk, stack.paths.root)

    _, trigger = call(stub.TriggerJob, job_pb2.TriggerJobRequest(body=body), metadata_for(token_kind, token))
    _, deregister = call(
        stub.DeregisterJob, job_pb2.DeregisterJobRequest(body=body), metadata_for(token_kind, token)
    )

    for code in (trigger, deregister):
        check_code(code, token_kind)
    if grpc.StatusCode.OK not in (trigger, deregister):
        assert snapshot(zk, stack.paths.root) == before
    assert stack.registry.client.client_id == session
