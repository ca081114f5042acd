"""ZooKeeper paths in ElasticJob-Cloud 3.0's layout under a namespace; the registry builds every
path it uses here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RegistryPaths:
    """Absolute paths under ``/{namespace}``."""

    namespace: str = "elasticjob-cloud"

    @staticmethod
    def child(parent: str, name: str) -> str:
        """The path of the child ``name`` of ``parent``."""
        return f"{parent}/{name}"

    @property
    def root(self) -> str:
        return f"/{self.namespace}"

    @property
    def apps(self) -> str:
        return f"{self.root}/config/app"

    def app(self, app_name: str) -> str:
        return f"{self.apps}/{app_name}"

    @property
    def jobs(self) -> str:
        return f"{self.root}/config/job"

    def job(self, job_name: str) -> str:
        return f"{self.jobs}/{job_name}"

    @property
    def ready(self) -> str:
        return f"{self.root}/state/ready"

    def ready_job(self, job_name: str) -> str:
        return f"{self.ready}/{job_name}"

    @property
    def running(self) -> str:
        return f"{self.root}/state/running"

    def running_job(self, job_name: str) -> str:
        return f"{self.running}/{job_name}"

    def running_task(self, job_name: str, task_id: str) -> str:
        return f"{self.running_job(job_name)}/{task_id}"

    @property
    def failover(self) -> str:
        return f"{self.root}/state/failover"

    def failover_job(self, job_name: str) -> str:
        return f"{self.failover}/{job_name}"

    def failover_shard(self, job_name: str, meta_info: str) -> str:
        return f"{self.failover_job(job_name)}/{meta_info}"

    @property
    def disabled_apps(self) -> str:
        return f"{self.root}/state/disable/app"

    def disabled_app(self, app_name: str) -> str:
        return f"{self.disabled_apps}/{app_name}"

    @property
    def disabled_jobs(self) -> str:
        return f"{self.root}/state/disable/job"

    def disabled_job(self, job_name: str) -> str:
        return f"{self.disabled_jobs}/{job_name}"

    @property
    def diagnosis(self) -> str:
        """Why each job's waiting work does not run, as the leader sees it (ours, not 3.0's)."""
        return f"{self.root}/state/diagnosis"

    def diagnosis_job(self, job_name: str) -> str:
        return f"{self.diagnosis}/{job_name}"

    @property
    def reconcile_request(self) -> str:
        """The last reconciliation asked for through the API (ours, not 3.0's)."""
        return f"{self.root}/ha/reconcile_request"

    @property
    def framework_id(self) -> str:
        return f"{self.root}/ha/framework_id"

    @property
    def election(self) -> str:
        return f"{self.root}/ha/election"

    @property
    def fired_until(self) -> str:
        """The leader's fire checkpoint (ours; ElasticJob-Cloud 3.0 does not read it)."""
        return f"{self.root}/ha/fired_until"

    def parents(self) -> tuple[str, ...]:
        """Container nodes created at start-up so transactions can create children directly."""
        return (
            self.apps,
            self.jobs,
            self.ready,
            self.running,
            self.failover,
            self.disabled_apps,
            self.disabled_jobs,
            self.diagnosis,
            f"{self.root}/ha",
        )
