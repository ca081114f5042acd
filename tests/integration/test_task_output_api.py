"""GET /api/job/tasks/{taskId}/output through the real Envoy: the token, the query parameters'
checks, and 503 when no Mesos master is configured (the stack here runs without one)."""

from __future__ import annotations

from urllib.parse import quote

from testkit.harness import Stack

TASK_ID = "my_job@-@0@-@READY@-@agent-1@-@0b1c"


def path(task_id: str = TASK_ID) -> str:
    return f"/api/job/tasks/{quote(task_id, safe='')}/output"


def test_reading_output_needs_a_token(stack: Stack) -> None:
    with stack.rest() as client:
        assert client.get(path()).status_code == 401


def test_bad_query_parameters_are_a_400_naming_the_field(stack: Stack, token: str) -> None:
    with stack.rest(token) as client:
        for params, field in (
            ({"file": "secrets"}, "file"),
            ({"offset": "-5"}, "offset"),
            ({"length": "0"}, "length"),
            ({"length": "99999999"}, "length"),
        ):
            response = client.get(path(), params=params)
            assert response.status_code == 400, (params, response.text)
            assert field in response.json()["message"], (params, response.text)


def test_without_a_mesos_master_the_answer_is_503(stack: Stack, token: str) -> None:
    with stack.rest(token) as client:
        response = client.get(path(), params={"file": "stderr", "offset": "0", "length": "10"})
    assert response.status_code == 503, response.text
    assert "ELASTICJOB_MESOS_URL" in response.json()["message"]


def test_only_file_offset_and_length_come_from_the_query(stack: Stack, token: str) -> None:
    """The path names the task: a ``task_id`` or ``taskId`` query parameter (which the transcoder
    would bind over the path's) is dropped, while ``file`` is still read and checked."""
    with stack.rest(token) as client:
        overridden = client.get(path(), params={"task_id": "", "taskId": "", "offset": "0"})
        checked = client.get(path(), params={"task_id": "", "file": "secrets"})
    assert overridden.status_code == 503, overridden.text  # the path's task, no Mesos master here
    assert checked.status_code == 400 and "file" in checked.json()["message"], checked.text
