"""The AWS-native usage read (`ecrgc.usage.collect` with protect.aws): ECS and Lambda at the issue's sizes
against moto (in its own process) with a fixed latency added to every call.

Sizes: 100 ECS services x 3 deployments (task sets: moto keeps no second deployment of a service),
2,000 task-definition revisions (100 families x 20) and 1,000 Lambda image functions x 5 published versions
(plus $LATEST) with one alias each. Reported per run: wall time, calls made per operation, and against them
the minimum calls AWS's page sizes allow and the bound `minimum calls x latency / concurrency`, where the
concurrency is the readers' pool size times the two sources read at once. Medians of
ECRGC_BENCH_REPEAT runs (default 3), each also at 0 ms latency (the baseline: what the calls cost moto and
the client without any latency) and with the client's CPU time; measures and reports, never asserts.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import boto3

from ecrgc.aws.accounts import WORKERS
from ecrgc.policy import load_policy_text
from ecrgc.usage import collect
from tests.bench.sandboxproc import served

if TYPE_CHECKING:
    from types_boto3_ecs.type_defs import ContainerDefinitionTypeDef, DeploymentControllerTypeDef

SCALES = {"full": (100, 20, 1000, 5), "small": (10, 20, 50, 5)}
"""(ECS families = services, revisions per family, Lambda functions, versions per function)."""
LATENCY_MS = 10.0
REVISIONS_KEPT = 5
ACCOUNT, REGION = "123456789012", "us-east-1"
ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
POLICY = f"""\
apiVersion: ecrgc/v1
kind: Policy
metadata: {{name: bench}}
spec:
  region: {REGION}
  repositories: {{include: ['.']}}
  rules: {{keepLatest: 1}}
  protect: {{aws: {{ecs: {{taskDefinitionRevisions: {REVISIONS_KEPT}}}, lambda: true}}}}
"""


def run() -> dict[str, object]:
    """Seed moto, then read the usage `repeat` times at 0 ms (the baseline: moto's and the client's own cost)
    and at LATENCY_MS; report medians."""
    scale = os.environ.get("ECRGC_BENCH_SCALE", "full")
    families, revisions, functions, versions = SCALES[scale]
    repeat = int(os.environ.get("ECRGC_BENCH_REPEAT", "3"))
    with served(_serve, None) as moto:
        os.environ.update(moto.environ)
        started = time.perf_counter()
        _seed(families, revisions, functions, versions)
        seeded = time.perf_counter() - started
        policies = [load_policy_text(POLICY, "bench.yaml")]
        runs: dict[float, list[tuple[float, Counter[str], int, float]]] = {0.0: [], LATENCY_MS: []}
        for _ in range(repeat):  # interleaved, so that a busy moment of the machine hits both alike
            for latency, measured in runs.items():
                moto.ask("latency", latency)
                moto.ask("reset")
                started, cpu = time.perf_counter(), time.process_time()
                usage = collect(policies)
                wall, cpu = time.perf_counter() - started, time.process_time() - cpu
                measured.append((wall, Counter(moto.ask("calls")), len(usage.uses), cpu))
    minimum = _minimum_calls(families, revisions, functions, versions)
    concurrency = WORKERS * 2
    bound = sum(minimum.values()) * LATENCY_MS / 1000 / concurrency
    wall = statistics.median(r[0] for r in runs[LATENCY_MS])
    baseline = statistics.median(r[0] for r in runs[0.0])
    calls = runs[LATENCY_MS][0][1]
    return {
        "scale": scale,
        "repeat": repeat,
        "sizes": {
            "ecs_services": families,
            "deployments_per_service": 3,
            "task_definition_revisions": families * revisions,
            "lambda_functions": functions,
            "versions_per_function": versions,
        },
        "seed_s": round(seeded, 1),
        "latency_ms": LATENCY_MS,
        "concurrency": concurrency,
        "uses": runs[LATENCY_MS][0][2],
        "wall_s": round(wall, 2),
        "wall_s_runs": [round(r[0], 2) for r in runs[LATENCY_MS]],
        "client_cpu_s": round(statistics.median(r[3] for r in runs[LATENCY_MS]), 2),
        "baseline_wall_s_at_0ms": round(baseline, 2),
        "wall_over_baseline": round(wall / baseline, 2),
        "bound_s": round(bound, 2),
        "wall_over_bound": round(wall / bound, 2),
        "calls": sum(calls.values()),
        "minimum_calls": sum(minimum.values()),
        "calls_by_operation": dict(sorted(calls.items())),
        "minimum_by_operation": minimum,
    }


def _minimum_calls(families: int, revisions: int, functions: int, versions: int) -> dict[str, int]:
    """The fewest calls that read everything at AWS's page sizes (moto may page less)."""
    configurations = functions * (versions + 1)
    return {
        "sts.GetCallerIdentity": 2,
        "ecs.ListClusters": 1,
        "ecs.ListServices": math.ceil(families / 100),
        "ecs.DescribeServices": math.ceil(families / 10),
        "ecs.ListTasks": 2,
        "ecs.ListTaskDefinitions": math.ceil(families * revisions / 100),
        # the 3 revisions each service's task sets use are among its family's newest 5
        "ecs.DescribeTaskDefinition": families * max(REVISIONS_KEPT, 3),
        "lambda.ListFunctions": math.ceil(configurations / 50),
        "lambda.ListAliases": functions,
        "lambda.GetFunction": configurations,
    }


def _seed(families: int, revisions: int, functions: int, versions: int) -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="prod")

    def family(n: int) -> None:
        for r in range(1, revisions + 1):
            definition: list[ContainerDefinitionTypeDef] = [
                {"name": "app", "image": f"{ECR}/svc{n}:r{r}", "memory": 128}
            ]
            ecs.register_task_definition(family=f"svc{n}", containerDefinitions=definition)
        controller: DeploymentControllerTypeDef = {"type": "EXTERNAL"}
        ecs.create_service(
            cluster="prod", serviceName=f"svc{n}", desiredCount=0, deploymentController=controller
        )
        for r in range(revisions - 2, revisions + 1):
            ecs.create_task_set(cluster="prod", service=f"svc{n}", taskDefinition=f"svc{n}:{r}")

    role = boto3.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=REGION)

    def function(n: int) -> None:
        name = f"fn{n}"
        lam.create_function(
            FunctionName=name, PackageType="Image", Role=role, Code={"ImageUri": f"{ECR}/fn:{n}"}
        )
        for v in range(1, versions + 1):  # a version is published only when something changed
            lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"V": str(v)}})
            lam.publish_version(FunctionName=name)
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion=str(versions))

    _each(family, range(families))
    _each(function, range(functions))


def _each(work: Callable[[int], None], items: Iterable[int]) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, items))


def _serve(pipe: Connection, _scale: object) -> None:
    """moto behind a WSGI layer that adds the latency and counts every call by service and operation."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    backend = DomainDispatcherApplication(create_backend_app)
    calls: Counter[str] = Counter()
    lock = threading.Lock()
    latency = [0.0]

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        operation = _operation(environ)
        with lock:
            calls[operation] += 1
        if latency[0]:
            time.sleep(latency[0] / 1000)
        return backend(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pipe.send(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_port}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": REGION,
        }
    )
    while (command := pipe.recv())[0] != "stop":
        with lock:
            match command:
                case ("latency", ms):
                    latency[0] = ms
                    pipe.send(None)
                case ("reset",):
                    calls.clear()
                    pipe.send(None)
                case ("calls",):
                    pipe.send(dict(calls))
    server.shutdown()


def _operation(environ: dict[str, Any]) -> str:
    """`ecs.ListServices`, `lambda.GetFunction`, …: from the JSON target, or from Lambda's REST path."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return f"ecs.{target.rsplit('.', 1)[-1]}" if "ContainerService" in target else target
    path, query = environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
    if path.startswith("/2015-03-31/functions"):
        if path.rstrip("/").endswith("/functions"):
            return "lambda.ListFunctions"
        return "lambda.ListAliases" if path.endswith("/aliases") else "lambda.GetFunction"
    return (
        "sts.GetCallerIdentity" if environ.get("REQUEST_METHOD") == "POST" and not query else f"other {path}"
    )
