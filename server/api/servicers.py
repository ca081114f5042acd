"""Thin servicers: protobuf → domain object → one domain call → protobuf."""

from __future__ import annotations

import grpc
from elasticjob.cloud.v1 import app_pb2, app_pb2_grpc, auth_pb2, auth_pb2_grpc, job_pb2, job_pb2_grpc
from google.api import httpbody_pb2
from google.protobuf import empty_pb2, wrappers_pb2

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

    def ListApps(
        self, request: app_pb2.ListAppsRequest, context: grpc.ServicerContext
    ) -> app_pb2.ListAppsResponse:
        apps, token = convert.page(
            self._apps.list_all(), lambda app: app.app_name, request.page_size, request.page_token
        )
        return app_pb2.ListAppsResponse(
            apps=[convert.app_to_proto(app) for app in apps], next_page_token=token
        )

    def ListAppsArray(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> httpbody_pb2.HttpBody:
        return convert.json_array([convert.app_to_proto(app) for app in self._apps.list_all()])

    def GetApp(self, request: app_pb2.GetAppRequest, context: grpc.ServicerContext) -> app_pb2.App:
        return convert.app_to_proto(self._apps.get(convert.checked_name(request.app_name, "appName")))

    def GetAppDisabled(
        self, request: app_pb2.GetAppDisabledRequest, context: grpc.ServicerContext
    ) -> wrappers_pb2.BoolValue:
        disabled = self._apps.is_disabled(convert.checked_name(request.app_name, "appName"))
        return wrappers_pb2.BoolValue(value=disabled)

    def DisableApp(
        self, request: app_pb2.DisableAppRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self._apps.disable(convert.checked_name(request.app_name, "appName"))
        return empty_pb2.Empty()

    def EnableApp(self, request: app_pb2.EnableAppRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self._apps.enable(convert.checked_name(request.app_name, "appName"))
        return empty_pb2.Empty()

    def DeleteApp(self, request: app_pb2.DeleteAppRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self._apps.delete(convert.checked_name(request.app_name, "appName"))
        return empty_pb2.Empty()


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

    def DeleteJob(self, request: job_pb2.DeleteJobRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self._jobs.deregister(convert.checked_name(request.job_name, "jobName"))
        return empty_pb2.Empty()

    def RunJob(self, request: job_pb2.RunJobRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self._jobs.trigger(convert.checked_name(request.job_name, "jobName"))
        return empty_pb2.Empty()

    def ListJobs(
        self, request: job_pb2.ListJobsRequest, context: grpc.ServicerContext
    ) -> job_pb2.ListJobsResponse:
        jobs, token = convert.page(
            self._jobs.list_all(), lambda job: job.job_name, request.page_size, request.page_token
        )
        return job_pb2.ListJobsResponse(
            jobs=[convert.job_to_proto(job) for job in jobs], next_page_token=token
        )

    def ListJobsArray(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> httpbody_pb2.HttpBody:
        return convert.json_array([convert.job_to_proto(job) for job in self._jobs.list_all()])

    def GetJob(self, request: job_pb2.GetJobRequest, context: grpc.ServicerContext) -> job_pb2.Job:
        return convert.job_to_proto(self._jobs.get(convert.checked_name(request.job_name, "jobName")))

    def GetJobDisabled(
        self, request: job_pb2.GetJobDisabledRequest, context: grpc.ServicerContext
    ) -> wrappers_pb2.BoolValue:
        disabled = self._jobs.is_disabled(convert.checked_name(request.job_name, "jobName"))
        return wrappers_pb2.BoolValue(value=disabled)

    def DisableJob(
        self, request: job_pb2.DisableJobRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self._jobs.disable(convert.checked_name(request.job_name, "jobName"))
        return empty_pb2.Empty()

    def EnableJob(self, request: job_pb2.EnableJobRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self._jobs.enable(convert.checked_name(request.job_name, "jobName"))
        return empty_pb2.Empty()

    def ListRunningTasks(
        self, request: job_pb2.ListRunningTasksRequest, context: grpc.ServicerContext
    ) -> job_pb2.ListRunningTasksResponse:
        tasks, token = convert.page(
            self._jobs.running_tasks(),
            lambda task: convert.shard_key(task.shard),
            request.page_size,
            request.page_token,
        )
        return job_pb2.ListRunningTasksResponse(
            tasks=[convert.running_task_to_proto(task) for task in tasks], next_page_token=token
        )

    def ListRunningTasksArray(
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        return convert.json_array(
            [convert.running_task_to_proto(task) for task in self._jobs.running_tasks()]
        )

    def ListReadyJobs(
        self, request: job_pb2.ListReadyJobsRequest, context: grpc.ServicerContext
    ) -> job_pb2.ListReadyJobsResponse:
        ready, token = convert.page(
            list(self._jobs.ready_runs().items()), lambda pair: pair[0], request.page_size, request.page_token
        )
        return job_pb2.ListReadyJobsResponse(
            ready_jobs=[convert.ready_job_to_proto(name, runs) for name, runs in ready], next_page_token=token
        )

    def ListReadyJobsArray(
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        ready = self._jobs.ready_runs()
        return convert.json_array([convert.ready_job_to_proto(name, runs) for name, runs in ready.items()])

    def ListFailoverTasks(
        self, request: job_pb2.ListFailoverTasksRequest, context: grpc.ServicerContext
    ) -> job_pb2.ListFailoverTasksResponse:
        shards, token = convert.page(
            self._jobs.failover_shards(),
            lambda pair: convert.shard_key(pair[0]),
            request.page_size,
            request.page_token,
        )
        return job_pb2.ListFailoverTasksResponse(
            failover_tasks=[convert.failover_task_to_proto(shard, entry) for shard, entry in shards],
            next_page_token=token,
        )

    def ListFailoverTasksArray(
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        shards = self._jobs.failover_shards()
        return convert.json_array([convert.failover_task_to_proto(shard, entry) for shard, entry in shards])
