"""Thin servicers: protobuf → domain object → one domain call → protobuf."""

from __future__ import annotations

import grpc
from elasticjob.cloud.v1 import app_pb2, app_pb2_grpc, auth_pb2, auth_pb2_grpc, job_pb2, job_pb2_grpc
from google.protobuf import empty_pb2

from server.api import convert
from server.api.tokens import Credentials, TokenSigner
from server.usecases.apps import AppManager
from server.usecases.jobs import JobManager


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, credentials: Credentials, signer: TokenSigner) -> None:
        self._credentials = credentials
        self._signer = signer

    def Login(self, request: auth_pb2.LoginRequest, context: grpc.ServicerContext) -> auth_pb2.LoginResponse:
        self._credentials.check(request.username, request.password)
        return auth_pb2.LoginResponse(access_token=self._signer.issue(request.username))


class AppServicer(app_pb2_grpc.AppServiceServicer):
    def __init__(self, apps: AppManager) -> None:
        self._apps = apps

    def PublishApp(self, request: app_pb2.PublishAppRequest, context: grpc.ServicerContext) -> app_pb2.App:
        return convert.app_to_proto(self._apps.publish(convert.app_from_publish(request)))

    def ModifyApp(self, request: app_pb2.ModifyAppRequest, context: grpc.ServicerContext) -> app_pb2.App:
        app_name, changes = convert.app_changes(request)
        return convert.app_to_proto(self._apps.modify(app_name, changes))


class JobServicer(job_pb2_grpc.JobServiceServicer):
    def __init__(self, jobs: JobManager) -> None:
        self._jobs = jobs

    def RegisterJob(self, request: job_pb2.JobConfigRequest, context: grpc.ServicerContext) -> job_pb2.Job:
        return convert.job_to_proto(self._jobs.register(convert.job_from_request(request)))

    def UpdateJob(self, request: job_pb2.JobConfigRequest, context: grpc.ServicerContext) -> job_pb2.Job:
        return convert.job_to_proto(self._jobs.update(convert.job_from_request(request)))

    def DeregisterJob(
        self, request: job_pb2.DeregisterJobRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self._jobs.deregister(convert.name_from_body(request.body))
        return empty_pb2.Empty()

    def TriggerJob(
        self, request: job_pb2.TriggerJobRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self._jobs.trigger(convert.name_from_body(request.body))
        return empty_pb2.Empty()
