"""The resource and task summaries of the embedded cluster's Mesos-shaped endpoints.

Mesos' endpoints show resources as one object: scalars by name (``cpus``, ``gpus``, ``mem``,
``disk`` always there), ranges as ``"[31000-32000]"`` and sets as ``"{a, b}"`` (Mesos'
src/common/http.cpp ``model(Resources)`` and the ``Value`` stringification in src/common/values.cpp).
"""

from __future__ import annotations

from server.cluster.state import resource_role, resources_json, task_json


def test_scalars_ranges_and_sets_are_summarised_as_mesos_endpoints_show_them() -> None:
    resources = [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}},
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.25}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 128}},
        {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31007, "end": 32000}]}},
        {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 31005}]}},
        {"name": "zones", "type": "SET", "set": {"item": ["a", "b"]}},
    ]
    assert resources_json(resources) == {
        "cpus": 0.75,
        "gpus": 0.0,
        "mem": 128.0,
        "disk": 0.0,
        "ports": "[31000-31005, 31007-32000]",
        "zones": "{a, b}",
    }
    assert resources_json([]) == {"cpus": 0.0, "gpus": 0.0, "mem": 0.0, "disk": 0.0}


def test_a_task_names_its_role_from_the_allocation_and_has_an_empty_executor_id_without_one() -> None:
    resources = [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "allocation_info": {"role": "jobs"}}
    ]
    assert resource_role(resources) == "jobs"
    assert resource_role([], "*") == "*"
    task = task_json(
        task_id="t",
        name="t",
        framework_id="f",
        executor_id=None,
        agent_id="a",
        state="TASK_RUNNING",
        resources=resources,
        statuses=[{"state": "TASK_STARTING", "timestamp": 1.5, "message": "not shown"}],
        role="*",
    )
    assert task["executor_id"] == "" and task["role"] == "jobs" and task["slave_id"] == "a"
    assert task["statuses"] == [{"state": "TASK_STARTING", "timestamp": 1.5}]
