"""The embedded master's resource arithmetic: scalars in thousandths and ``RANGES`` (ports) as
Mesos' ``Value::Ranges`` (``src/common/values.cpp``: union on add, removal on subtract,
containment range by range), and what a default agent offers (docs "Attributes and Resources":
``ports:[31000-32000]``; ``src/slave/containerizer/containerizer.cpp``: disk is the work
directory's file system less 5 GB, or half of it under 10 GB)."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.cluster.__main__ import parse_arguments
from server.cluster.resources import ResourceError, Resources, parse_ranges
from server.cluster.settings import DEFAULT_PORTS, ClusterSettings, MasterSettings, machine_disk


def _ports(*ranges: tuple[int, int]) -> dict[str, object]:
    return {
        "name": "ports",
        "type": "RANGES",
        "ranges": {"range": [{"begin": begin, "end": end} for begin, end in ranges]},
    }


def test_ranges_subtract_add_and_contain_as_mesos() -> None:
    agent = Resources.of(cpus=2).with_ranges("ports", DEFAULT_PORTS)
    task = Resources.from_json([_ports((31000, 31001), (31500, 31500))])
    left = agent - task
    assert left.ranges() == {"ports": ((31002, 31499), (31501, 32000))}
    assert left.contains(Resources.from_json([_ports((31002, 31010))]))
    assert not left.contains(Resources.from_json([_ports((31500, 31500))]))
    assert not agent.contains(Resources.from_json([_ports((30999, 31000))]))
    assert (left + task).ranges() == {"ports": ((31000, 32000),)}  # merged back into one range
    assert left.get("cpus") == 2.0


def test_ranges_round_trip_through_json_and_text() -> None:
    resources = Resources.of(cpus=1, disk=10).with_ranges("ports", parse_ranges("[31000-31005, 31007-31007]"))
    items = {item["name"]: item for item in resources.to_json()}
    assert items["ports"]["type"] == "RANGES"
    assert items["ports"]["ranges"]["range"] == [
        {"begin": 31000, "end": 31005},
        {"begin": 31007, "end": 31007},
    ]
    assert Resources.from_json(resources.to_json()) == resources
    assert str(resources) == "cpus(*):1; disk(*):10; ports(*):[31000-31005, 31007-31007]"


@pytest.mark.parametrize(
    "entry",
    [
        _ports((5, 4)),
        _ports((-1, 3)),
        {"name": "ports", "type": "RANGES"},
        {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 1.5, "end": 2}]}},
        {"name": "colors", "type": "SET", "set": {"item": ["red"]}},
    ],
)
def test_malformed_ranges_and_sets_are_refused_naming_the_resource(entry: dict[str, object]) -> None:
    with pytest.raises(ResourceError, match=str(entry["name"])):
        Resources.from_json([entry])


def test_a_default_agent_offers_disk_and_ports(tmp_path: Path) -> None:
    resources = ClusterSettings(work_dir=tmp_path / "not-yet-created", cpus=1, mem=64).resources()
    assert resources.ranges() == {"ports": ((31000, 32000),)}
    assert resources.get("disk") == machine_disk(tmp_path) > 0


def test_disk_leaves_five_gigabytes_or_half(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from collections import namedtuple

    disk_usage = namedtuple("disk_usage", "total used free")

    def usage(total_mb: int) -> object:
        return lambda path: disk_usage(total_mb * 1024 * 1024, 0, 0)

    monkeypatch.setattr(shutil, "disk_usage", usage(100 * 1024))
    assert machine_disk(tmp_path) == 95 * 1024
    monkeypatch.setattr(shutil, "disk_usage", usage(8 * 1024))
    assert machine_disk(tmp_path) == 4 * 1024


def test_flags_set_ports_disk_and_user_switching_and_no_offer_timeout_by_default() -> None:
    assert MasterSettings().offer_timeout is None
    settings = parse_arguments(["--ports", "[5000-5010]", "--disk", "100", "--switch-user", "false"])
    assert settings.ports == ((5000, 5010),) and settings.disk == 100.0
    assert settings.agent.switch_user is False
    defaults = parse_arguments([])
    assert defaults.master.offer_timeout is None and defaults.agent.switch_user is True
    assert parse_arguments(["--offer-timeout", "30"]).master.offer_timeout == 30.0
    with pytest.raises(SystemExit):
        parse_arguments(["--ports", "31000-32000"])
