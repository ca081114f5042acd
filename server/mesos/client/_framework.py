"""The FrameworkInfo a scheduler subscribes with (``mesos.v1.FrameworkInfo``), as a value object."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from server.mesos.subscription import JsonObject

__all__ = ["DEFAULT_FAILOVER_TIMEOUT", "FrameworkInfo"]

#: ElasticJob-Cloud's failover timeout: one week, in seconds.
DEFAULT_FAILOVER_TIMEOUT = 7 * 24 * 3600.0


@dataclass(frozen=True, kw_only=True, slots=True)
class FrameworkInfo:
    """What the framework tells Mesos about itself on SUBSCRIBE (``mesos.v1.FrameworkInfo``).

    ``role``, when set, is sent as ``roles: [role]`` with the ``MULTI_ROLE`` capability; without
    it the framework subscribes in the default role ``*``. ``capabilities`` lists the other
    ``FrameworkInfo.Capability.Type`` names; ``PARTITION_AWARE`` (the default) makes the master
    report ``TASK_UNREACHABLE`` / ``TASK_DROPPED`` / ``TASK_GONE`` instead of ``TASK_LOST``.
    """

    user: str
    name: str
    hostname: str = field(default_factory=socket.gethostname)
    role: str | None = None
    failover_timeout: float = DEFAULT_FAILOVER_TIMEOUT
    checkpoint: bool = True
    principal: str | None = None
    webui_url: str | None = None
    capabilities: tuple[str, ...] = ("PARTITION_AWARE",)

    def __post_init__(self) -> None:
        if not self.user:
            raise ValueError("FrameworkInfo.user is required (the HTTP API does not fill it in)")
        if not self.name:
            raise ValueError("FrameworkInfo.name is required")
        if self.failover_timeout < 0:
            raise ValueError("FrameworkInfo.failover_timeout must not be negative")

    @property
    def partition_aware(self) -> bool:
        """Whether the framework declares the ``PARTITION_AWARE`` capability."""
        return "PARTITION_AWARE" in self.capabilities

    def to_json(self, framework_id: str | None = None) -> JsonObject:
        """The FrameworkInfo JSON for SUBSCRIBE; ``framework_id`` sets ``id`` (resubscription)."""
        capabilities = list(dict.fromkeys(self.capabilities))
        info: JsonObject = {
            "user": self.user,
            "name": self.name,
            "hostname": self.hostname,
            "failover_timeout": self.failover_timeout,
            "checkpoint": self.checkpoint,
        }
        if self.role is not None:
            info["roles"] = [self.role]
            if "MULTI_ROLE" not in capabilities:
                capabilities.insert(0, "MULTI_ROLE")
        if capabilities:
            info["capabilities"] = [{"type": name} for name in capabilities]
        if self.principal is not None:
            info["principal"] = self.principal
        if self.webui_url is not None:
            info["webui_url"] = self.webui_url
        if framework_id is not None:
            info["id"] = {"value": framework_id}
        return info

    def subscribe_call(self, framework_id: str | None = None) -> JsonObject:
        """The whole SUBSCRIBE call; with ``framework_id`` also as the call's ``framework_id``."""
        call: JsonObject = {
            "type": "SUBSCRIBE",
            "subscribe": {"framework_info": self.to_json(framework_id)},
        }
        if framework_id is not None:
            call["framework_id"] = {"value": framework_id}
        return call
