"""Benchmark: the sandbox itself. Seeding 1,000,000 images across 2,000 repositories (in-process, no HTTP),
and serving DescribeImages pages of 1,000 (requests/s, MB/s) from that registry's largest repository
(~122,000 images; pages deep in it cost what the first ones cost), to boto3 and to a bare HTTP client:
the difference is botocore's own parsing, i.e. what a plan pays whatever the server.

    ECRGC_BENCH_REPEAT=N    runs, each a fresh sandbox process (seed, then serve); medians (default 3)
    ECRGC_BENCH_SCALE=small 200 repositories / 100,000 images instead of the full size
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import statistics
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import get_context
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from ecrgc.sandbox import Sandbox, api
from ecrgc.sandbox.server import TARGET_PREFIX
from ecrgc.sandbox.synth import SynthSpec, generate

SCALES = {"full": (2_000, 1_000_000), "small": (200, 100_000)}
PAGE = 1000
CLIENTS = 4


def run() -> dict[str, object]:
    """Median figures over fresh sandbox processes; never asserts a time."""
    repositories, images = SCALES[os.environ.get("ECRGC_BENCH_SCALE", "full")]
    repeat = int(os.environ.get("ECRGC_BENCH_REPEAT", "3"))
    runs = [_one_run(repositories, images) for _ in range(repeat)]

    def median(*path: str) -> float:
        values: list[float] = []
        for r in runs:
            value: Any = r
            for key in path:
                value = value[key]
            values.extend(value if isinstance(value, list) else [value])
        return round(statistics.median(values), 2)

    return {
        "registry": {
            "repositories": repositories,
            "images": images,
            "largest_repository": runs[0]["largest"],
        },
        "runs": repeat,
        "seed_seconds_median": median("seed_s"),
        "seed_peak_rss_mb_median": median("rss_mb"),
        "server_only_page_ms_median": {
            "first_page": median("page_ms", "first"),
            "last_page": median("page_ms", "last"),
        },
        "boto3_one_client": {
            "requests_per_s_median": median("one", "rps"),
            "mb_per_s_median": median("one", "mbps"),
            "page_bytes": runs[0]["one"]["page_bytes"],
        },
        "raw_http_one_client": {
            "requests_per_s_median": median("raw", "rps"),
            "mb_per_s_median": median("raw", "mbps"),
        },
        f"boto3_{CLIENTS}_clients": {
            "requests_per_s_median": median("many", "rps"),
            "mb_per_s_median": median("many", "mbps"),
        },
    }


def _one_run(repositories: int, images: int) -> dict[str, Any]:
    mine, theirs = get_context("spawn").Pipe()
    process = get_context("spawn").Process(target=_serve, args=(theirs, repositories, images))
    process.start()
    try:
        stats = mine.recv()
        environ, largest = stats["environ"], stats["largest"]
        one = _walk_all([largest[0]], environ)
        many = _walk_all(largest[:CLIENTS], environ)
        raw = _walk_raw(largest[0], environ["AWS_ENDPOINT_URL"])
        return {**stats, "one": one, "many": many, "raw": raw}
    finally:
        mine.send("stop")
        process.join()


def _walk_all(repositories: list[str], environ: Mapping[str, str]) -> dict[str, float]:
    """Page through each repository with its own boto3 client, concurrently; aggregate rates."""
    start = time.perf_counter()
    with ThreadPoolExecutor(len(repositories)) as pool:
        walks = list(pool.map(lambda name: _walk(name, environ), repositories))
    elapsed = time.perf_counter() - start
    pages = sum(w[0] for w in walks)
    size = sum(w[1] for w in walks)
    return {"rps": pages / elapsed, "mbps": size / elapsed / 1e6, "page_bytes": size / pages}


def _walk_raw(repository: str, endpoint: str) -> dict[str, float]:
    """The same walk without botocore (the sandbox checks no signature): what the server alone sustains."""
    connection = http.client.HTTPConnection(urlsplit(endpoint).netloc)
    body: dict[str, Any] = {"repositoryName": repository, "maxResults": PAGE}
    headers = {"X-Amz-Target": f"{TARGET_PREFIX}DescribeImages", "Content-Type": "application/x-amz-json-1.1"}
    pages = size = 0
    start = time.perf_counter()
    while True:
        connection.request("POST", "/", json.dumps(body), headers)
        payload = connection.getresponse().read()
        pages, size = pages + 1, size + len(payload)
        token = json.loads(payload).get("nextToken")
        if token is None:
            break
        body["nextToken"] = token
    elapsed = time.perf_counter() - start
    connection.close()
    return {"rps": pages / elapsed, "mbps": size / elapsed / 1e6}


def _walk(repository: str, environ: Mapping[str, str]) -> tuple[int, int]:
    ecr = boto3.client(
        "ecr",
        endpoint_url=environ["AWS_ENDPOINT_URL"],
        region_name=environ["AWS_REGION"],
        aws_access_key_id=environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environ["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"mode": "standard"}),
    )
    pages = size = 0
    for page in ecr.get_paginator("describe_images").paginate(
        repositoryName=repository, PaginationConfig={"PageSize": PAGE}
    ):
        pages += 1
        size += int(page["ResponseMetadata"]["HTTPHeaders"]["content-length"])
    return pages, size


def _serve(pipe: Connection, repositories: int, images: int) -> None:
    """Child process: seed (timed), time the server side of a page, then serve until told to stop."""
    with Sandbox() as sandbox:
        start = time.perf_counter()
        generate(sandbox.registry, SynthSpec(repositories=repositories, images=images))
        seed_s = time.perf_counter() - start
        repos = sorted(sandbox.registry.repositories.values(), key=lambda r: -len(r.images))
        pipe.send(
            {
                "environ": sandbox.environ(),
                "largest": [r.name for r in repos[:CLIENTS]],
                "seed_s": seed_s,
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "page_ms": _server_page_ms(sandbox, repos[0].name),
            }
        )
        pipe.recv()


def _server_page_ms(sandbox: Sandbox, repository: str) -> dict[str, float]:
    """Milliseconds to build and encode one page of 1000 in-process: first page vs last page."""
    body: dict[str, Any] = {"repositoryName": repository, "maxResults": PAGE}
    timings: list[float] = []
    while True:
        start = time.perf_counter()
        reply = api.handle(sandbox.registry, "DescribeImages", body)
        json.dumps(reply, separators=(",", ":"))
        timings.append((time.perf_counter() - start) * 1000)
        if "nextToken" not in reply:
            return {"first": timings[0], "last": timings[-2] if len(timings) > 1 else timings[0]}
        body["nextToken"] = reply["nextToken"]
