"""The two server interceptors: domain errors → gRPC status (the one mapping), and the token check.

Order matters: ``ErrorInterceptor`` must come first so it also maps the auth check's refusals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from server.api.tokens import TokenSigner
from server.domain import errors
from server.domain.operate_errors import ClusterUnavailable, TooManyRequests

log = logging.getLogger("server.api")

MAX_MESSAGE_LENGTH = 1024
"""Longest error message sent (the status travels in HTTP/2 headers, which Envoy bounds)."""

# The spec's error table, in one place. Subclasses map through their base.
STATUS_OF: tuple[tuple[type[errors.ElasticJobError], grpc.StatusCode], ...] = (
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.Conflict, grpc.StatusCode.ABORTED),
    (errors.RegistryUnavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.MesosUnavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.HistoryUnavailable, grpc.StatusCode.UNAVAILABLE),
    (TooManyRequests, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (ClusterUnavailable, grpc.StatusCode.UNAVAILABLE),
)

# Methods callable without a token: login, health, the metrics Prometheus scrapes, and the
# console's static files (which hold no data; the console calls the API with the user's token).
PUBLIC_METHODS = frozenset(
    {
        "/elasticjob.cloud.v1.AuthService/Login",
        "/elasticjob.cloud.v1.MetricsService/GetMetrics",
        "/elasticjob.cloud.v1.ConsoleService/GetConsoleAsset",
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
    }
)
PUBLIC_PREFIXES = ("/grpc.reflection.",)


def status_code_for(error: errors.ElasticJobError) -> grpc.StatusCode:
    for error_type, code in STATUS_OF:
        if isinstance(error, error_type):
            return code
    return grpc.StatusCode.INTERNAL


def rich_status(error: errors.ElasticJobError) -> grpc.Status:
    """A status with the message and, for a bad field, a google.rpc.BadRequest field violation."""
    code = status_code_for(error)
    message = str(error)
    if len(message) > MAX_MESSAGE_LENGTH:
        message = message[: MAX_MESSAGE_LENGTH - 3] + "..."
    status = status_pb2.Status(code=code.value[0], message=message)
    if isinstance(error, errors.InvalidArgument) and error.field:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=error.field, description=message)
                ]
            )
        )
        status.details.append(detail)
    return rpc_status.to_status(status)


def _wrap_unary(handler: grpc.RpcMethodHandler, wrap: Callable[[Any], Any]) -> grpc.RpcMethodHandler:
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            wrap(handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            wrap(handler.unary_stream),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return handler  # streaming-request methods (reflection) pass through untouched


class ErrorInterceptor(grpc.ServerInterceptor):
    """Turns domain errors into their status; anything unexpected becomes INTERNAL and is logged."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method

        def wrap(behaviour: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[..., Any]:
            def guarded(request: Any, context: grpc.ServicerContext) -> Any:
                try:
                    return behaviour(request, context)
                except errors.ElasticJobError as exc:
                    code = status_code_for(exc)
                    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL):
                        log.warning("%s failed: %s", method, exc)
                    else:
                        log.info("%s refused (%s): %s", method, code.name, exc)
                    context.abort_with_status(rich_status(exc))

            return guarded

        return _wrap_unary(handler, wrap)


class AuthInterceptor(grpc.ServerInterceptor):
    """Every method but Login, the console's files, health and reflection needs a valid token, sent as the metadata
    ``accesstoken`` (what Envoy passes for the REST header ``accessToken``) or
    ``authorization: Bearer <token>``."""

    def __init__(self, signer: TokenSigner) -> None:
        self._signer = signer

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method in PUBLIC_METHODS or method.startswith(PUBLIC_PREFIXES):
            return handler
        token = _token_from(handler_call_details.invocation_metadata or ())

        def wrap(behaviour: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[..., Any]:
            def checked(request: Any, context: grpc.ServicerContext) -> Any:
                if token is None:
                    raise errors.Unauthenticated("missing access token: send the accessToken header")
                self._signer.verify(token)
                return behaviour(request, context)

            return checked

        return _wrap_unary(handler, wrap)


def _token_from(metadata: Any) -> str | None:
    for key, value in metadata:
        if key == "accesstoken" and value:
            return str(value)
    for key, value in metadata:
        if key == "authorization" and isinstance(value, str):
            scheme, _, credential = value.strip().partition(" ")
            if scheme.lower() == "bearer" and credential.strip():
                return credential.strip()
    return None


__all__ = ["AuthInterceptor", "ErrorInterceptor", "rich_status", "status_code_for"]
