"""The one error mapping, specified by the spec's error table: domain error → gRPC status code, and the
rich status a client decodes (a google.rpc.BadRequest naming the bad field)."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from server.api.interceptors import rich_status, status_code_for
from server.domain import errors

DETAILS_KEY = "grpc-status-details-bin"


def decoded_status(status: grpc.Status) -> status_pb2.Status:
    details = [value for key, value in status.trailing_metadata if key == DETAILS_KEY]
    assert len(details) == 1, status.trailing_metadata
    return status_pb2.Status.FromString(details[0])


def bad_requests(status: grpc.Status) -> list[error_details_pb2.BadRequest]:
    found = []
    for detail in decoded_status(status).details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            found.append(bad_request)
    return found


@pytest.mark.parametrize(
    "error, code",
    [
        pytest.param(
            errors.InvalidArgument("cron is invalid", field="cron"),
            grpc.StatusCode.INVALID_ARGUMENT,
            id="InvalidArgument-field",
        ),
        pytest.param(
            errors.InvalidArgument("the request body is empty"),
            grpc.StatusCode.INVALID_ARGUMENT,
            id="InvalidArgument-no-field",
        ),
        pytest.param(
            errors.Unauthenticated("bad token"), grpc.StatusCode.UNAUTHENTICATED, id="Unauthenticated"
        ),
        pytest.param(errors.AppNotFound("test_app"), grpc.StatusCode.NOT_FOUND, id="AppNotFound"),
        pytest.param(errors.JobNotFound("test_job"), grpc.StatusCode.NOT_FOUND, id="JobNotFound"),
        pytest.param(
            errors.AppAlreadyExists("test_app"), grpc.StatusCode.ALREADY_EXISTS, id="AppAlreadyExists"
        ),
        pytest.param(
            errors.JobAlreadyExists("test_job"), grpc.StatusCode.ALREADY_EXISTS, id="JobAlreadyExists"
        ),
        pytest.param(
            errors.FailedPrecondition("job 'test_job' is disabled"),
            grpc.StatusCode.FAILED_PRECONDITION,
            id="FailedPrecondition",
        ),
        pytest.param(
            errors.RegistryUnavailable("ZooKeeper unreachable"),
            grpc.StatusCode.UNAVAILABLE,
            id="RegistryUnavailable",
        ),
    ],
)
def test_each_domain_error_maps_to_the_status_code_of_the_spec_table(
    error: errors.ElasticJobError, code: grpc.StatusCode
) -> None:
    assert status_code_for(error) is code
    assert rich_status(error).code is code


def test_a_lost_race_maps_to_aborted_so_clients_may_retry() -> None:
    assert status_code_for(errors.Conflict("the job changed meanwhile")) is grpc.StatusCode.ABORTED


def test_a_domain_error_outside_the_table_maps_to_internal() -> None:
    assert status_code_for(errors.ConfigurationError("bad settings")) is grpc.StatusCode.INTERNAL
    assert status_code_for(errors.ElasticJobError("unexpected")) is grpc.StatusCode.INTERNAL


def test_subclasses_map_through_their_base() -> None:
    class AppDisabled(errors.FailedPrecondition):
        pass

    assert status_code_for(AppDisabled("app is disabled")) is grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    "error, message",
    [
        (errors.AppNotFound("test_app"), "app 'test_app' does not exist"),
        (errors.JobNotFound("test_job"), "job 'test_job' does not exist"),
        (errors.AppAlreadyExists("test_app"), "app 'test_app' already exists"),
        (errors.JobAlreadyExists("test_job"), "job 'test_job' already exists"),
    ],
)
def test_not_found_and_already_exists_messages_name_the_resource(
    error: errors.ElasticJobError, message: str
) -> None:
    assert rich_status(error).details == message


def test_the_rich_status_carries_the_message() -> None:
    status = rich_status(errors.InvalidArgument("cpuCount must be at least 0.001, got 0", field="cpuCount"))

    assert status.details == "cpuCount must be at least 0.001, got 0"
    assert decoded_status(status).message == "cpuCount must be at least 0.001, got 0"
    assert decoded_status(status).code == grpc.StatusCode.INVALID_ARGUMENT.value[0]


def test_an_invalid_field_carries_a_bad_request_detail_naming_the_field() -> None:
    status = rich_status(errors.InvalidArgument("cron '61 * * * * ?' is invalid", field="cron"))

    [bad_request] = bad_requests(status)
    [violation] = bad_request.field_violations
    assert violation.field == "cron"
    assert violation.description == "cron '61 * * * * ?' is invalid"


def test_an_invalid_argument_without_a_field_carries_no_bad_request() -> None:
    assert bad_requests(rich_status(errors.InvalidArgument("the request body is empty"))) == []


@pytest.mark.parametrize(
    "error",
    [errors.JobNotFound("test_job"), errors.Unauthenticated("expired"), errors.RegistryUnavailable("down")],
)
def test_other_errors_carry_no_details(error: errors.ElasticJobError) -> None:
    assert list(decoded_status(rich_status(error)).details) == []
