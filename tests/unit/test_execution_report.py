"""The execution report codec the executor writes and the scheduler reads
(``server/domain/execution_report.py``).

ElasticJob 3.0 records each run as a start event and a completion event of the same id, the cause
cut to ``JOB_EXECUTION_LOG.failure_cause``'s 4 000 characters (its ``JobExecutionEvent`` and the
RDB storage's ``addJobExecutionEvent``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from server.domain.execution_report import (
    ExecutionReport,
    InvalidReport,
    decode_report,
    encode_report,
    find_report,
)

START = datetime(2026, 12, 2, 4, 0, 0, 123_000, tzinfo=UTC)


def test_a_completion_round_trips_with_its_offset_kept() -> None:
    zone = timezone(timedelta(hours=8))
    report = ExecutionReport(
        id="run-1",
        task_id="job@-@0@-@READY@-@agent@-@u",
        start_time=START.astimezone(zone),
        complete_time=START + timedelta(seconds=2),
        success=False,
        failure_cause="run failed with exit code 3",
        exit_code=3,
    )
    decoded = decode_report(encode_report(report))
    assert decoded == report
    assert decoded.start_time.utcoffset() == timedelta(hours=8)
    assert decoded.is_completion


def test_a_start_report_has_neither_completion_nor_success() -> None:
    decoded = decode_report(encode_report(ExecutionReport(id="r", start_time=START)))
    assert decoded.complete_time is None and decoded.success is None and not decoded.is_completion


def test_a_long_cause_is_cut_to_the_columns_4000_characters() -> None:
    report = ExecutionReport(
        id="r", start_time=START, complete_time=START, success=False, failure_cause="x" * 5000
    )
    assert len(decode_report(encode_report(report)).failure_cause or "") == 4000


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b'{"execution": {"startTime": "2026-12-02T04:00:00+00:00"}}', "'id'"),
        (b'{"execution": {"id": "r"}}', "'startTime'"),
        (b'{"execution": {"id": "r", "startTime": "yesterday"}}', "'startTime'"),
        (b'{"execution": {"id": "r", "startTime": "2026-12-02T04:00:00"}}', "startTime has no UTC offset"),
        (b'{"execution": {"id": "r", "startTime": "2026-12-02T04:00:00Z", "success": 1}}', "'success'"),
        (
            b'{"execution": {"id": "r", "startTime": "2026-12-02T04:00:00Z", "success": true}}',
            "completeTime and success",
        ),
        (
            b'{"execution": {"id": "r", "startTime": "2026-12-02T04:00:00Z", "exitCode": "3"}}',
            "'exitCode'",
        ),
        (b'{"execution": []}', "'execution' must be an object"),
        (b'{"execution": {"id": "' + b"x" * 41 + b'", "startTime": "2026-12-02T04:00:00Z"}}', "id must be"),
    ],
)
def test_a_broken_report_is_refused_naming_the_field(data: bytes, field: str) -> None:
    with pytest.raises(InvalidReport, match=field):
        find_report(data)


@pytest.mark.parametrize("data", [None, b"", b"hello", b"[1]", b'{"other": 1}', b"{not json"])
def test_data_without_a_report_is_no_report(data: bytes | None) -> None:
    assert find_report(data) is None


def test_decode_insists_on_a_report() -> None:
    with pytest.raises(InvalidReport, match="no 'execution'"):
        decode_report(b'{"other": 1}')
