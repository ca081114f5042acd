"""The statistics servicer: ``History``'s statistics → 3.0's statistics rows. Lists go out as a
JSON array in an HttpBody (3.0 answered bare arrays), each element printed as its row message."""

from __future__ import annotations

import grpc
from elasticjob.cloud.v1 import statistics_pb2, statistics_pb2_grpc
from google.api import httpbody_pb2

from server.api import convert
from server.api.event_servicer import iso_time
from server.trace.statistics import CountStatistics, ResultStatistics
from server.usecases.history import History

__all__ = ["StatisticsServicer"]


def _result(row: ResultStatistics) -> statistics_pb2.TaskResultStatistics:
    return statistics_pb2.TaskResultStatistics(
        id=row.id,
        success_count=row.success_count,
        failed_count=row.failed_count,
        statistic_interval=row.interval,
        statistics_time=iso_time(row.statistics_time),
        creation_time=iso_time(row.creation_time),
    )


def _running(row: CountStatistics) -> statistics_pb2.RunningStatistics:
    return statistics_pb2.RunningStatistics(
        id=row.id,
        running_count=row.count,
        statistics_time=iso_time(row.statistics_time),
        creation_time=iso_time(row.creation_time),
    )


class StatisticsServicer(statistics_pb2_grpc.StatisticsServiceServicer):
    def __init__(self, history: History) -> None:
        self._history = history

    def ListTaskResultStatistics(
        self, request: statistics_pb2.ListTaskResultStatisticsRequest, context: grpc.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        return convert.json_array([_result(row) for row in self._history.task_results_since(request.since)])

    def GetTaskResultStatistics(
        self, request: statistics_pb2.GetTaskResultStatisticsRequest, context: grpc.ServicerContext
    ) -> statistics_pb2.TaskResultStatistics:
        return _result(self._history.task_results_of(request.period))

    def ListTaskRunningStatistics(
        self, request: statistics_pb2.ListRunningStatisticsRequest, context: grpc.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        return convert.json_array([_running(row) for row in self._history.task_running_since(request.since)])

    def ListJobRunningStatistics(
        self, request: statistics_pb2.ListRunningStatisticsRequest, context: grpc.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        return convert.json_array([_running(row) for row in self._history.job_running_since(request.since)])

    def ListJobRegisterStatistics(
        self, request: statistics_pb2.ListJobRegisterStatisticsRequest, context: grpc.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        return convert.json_array(
            [
                statistics_pb2.JobRegisterStatistics(
                    id=row.id,
                    registered_count=row.count,
                    statistics_time=iso_time(row.statistics_time),
                    creation_time=iso_time(row.creation_time),
                )
                for row in self._history.job_register()
            ]
        )

    def GetJobExecutionTypeStatistics(
        self, request: statistics_pb2.GetJobExecutionTypeStatisticsRequest, context: grpc.ServicerContext
    ) -> statistics_pb2.JobExecutionTypeStatistics:
        transient, daemon = self._history.execution_type_counts()
        return statistics_pb2.JobExecutionTypeStatistics(
            transient_job_count=transient, daemon_job_count=daemon
        )
