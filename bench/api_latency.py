"""Register-job latency: through Envoy (REST/JSON) vs directly over gRPC, same run, same stack.

Each sample registers a fresh job (a real ZooKeeper transaction), sequentially. Prints p50/p90/p99
of both paths and the ratio of the medians (the cost of transcoding through Envoy).

    python -m bench.api_latency [--calls 300]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

import grpc
from elasticjob.cloud.v1 import job_pb2, job_pb2_grpc

from testkit.harness import json_value, running_stack, unique_name, zookeeper_server


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def describe(name: str, samples: list[float]) -> str:
    return (
        f"{name:<14} n={len(samples)} p50={statistics.median(samples) * 1000:.2f} ms "
        f"p90={percentile(samples, 0.9) * 1000:.2f} ms p99={percentile(samples, 0.99) * 1000:.2f} ms"
    )


def grpc_request(app: str, job_name: str) -> job_pb2.JobConfigRequest:
    """The same job as the REST body, as a gRPC request."""
    return job_pb2.JobConfigRequest(
        app_name=app,
        job_name=job_name,
        cpu_count=json_value(0.1),
        memory_mb=json_value(64.0),
        job_execution_type="TRANSIENT",
        cron="0/5 * * * * ?",
        sharding_total_count=json_value(5),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with zookeeper_server(work / "zk") as zk, running_stack(zk.connect_string, work) as stack:
            token = stack.login()
            app = unique_name("bench_app")
            with stack.rest(token) as rest:
                rest.post(
                    "/api/app", json={"appName": app, "appURL": "http://h/a.tgz", "bootstrapScript": "run.sh"}
                ).raise_for_status()
                job_fields = {
                    "appName": app,
                    "cpuCount": 0.1,
                    "memoryMB": 64.0,
                    "jobExecutionType": "TRANSIENT",
                    "cron": "0/5 * * * * ?",
                    "shardingTotalCount": 5,
                }
                rest_samples, grpc_samples = [], []
                with grpc.insecure_channel(stack.grpc_target) as channel:
                    stub = job_pb2_grpc.JobServiceStub(channel)
                    metadata = (("accesstoken", token),)
                    for warmup in range(20):  # connections, Envoy's first requests
                        rest.post("/api/job/register", json={**job_fields, "jobName": f"warm_rest_{warmup}"})
                        stub.RegisterJob(
                            grpc_request(app, f"warm_grpc_{warmup}"),
                            metadata=metadata,
                        )
                    for index in range(args.calls):  # interleaved so both see the same conditions
                        started = time.perf_counter()
                        response = rest.post(
                            "/api/job/register", json={**job_fields, "jobName": f"rest_{index}"}
                        )
                        rest_samples.append(time.perf_counter() - started)
                        response.raise_for_status()
                        started = time.perf_counter()
                        stub.RegisterJob(
                            grpc_request(app, f"grpc_{index}"),
                            metadata=metadata,
                        )
                        grpc_samples.append(time.perf_counter() - started)
    print("register-job latency, sequential calls, same run:")
    print(describe("REST via Envoy", rest_samples))
    print(describe("gRPC direct", grpc_samples))
    print(
        f"ratio of medians (Envoy / direct): {statistics.median(rest_samples) / statistics.median(grpc_samples):.2f}"
    )


if __name__ == "__main__":
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("kazoo.client").setLevel(logging.ERROR)
    main()
