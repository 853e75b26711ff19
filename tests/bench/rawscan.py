"""The raw scanner that issue 14 measures `ecrgc plan` against: the wire's speed on this machine.

The same pages ecrgc asks for (DescribeRepositories, DescribeImages of every image with the ANY filters,
BatchGetImage of every active index in calls of 100) at the same concurrency, read with http.client and
decoded with json.loads, and nothing else: no signing, no model, nothing kept once counted (the sandbox
checks no signature), no retries but for a reset connection (reopened, counted). Each call is one request
on a kept-alive connection of its thread.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from ecrgc.aws.inventory import ACCEPTED_MEDIA_TYPES, PAGE_SIZE
from ecrgc.model import INDEX_MEDIA_TYPES
from ecrgc.sandbox.server import TARGET_PREFIX

RECONNECTS = 3
"""Times a reset connection is reopened and its request sent again (each is counted in the report)."""


class _Wire:
    """One kept-alive HTTP connection per thread to the sandbox, speaking ECR's JSON 1.1 protocol."""

    def __init__(self, endpoint: str) -> None:
        self.netloc = urlsplit(endpoint).netloc
        self.local = threading.local()
        self.reconnects = 0
        self.lock = threading.Lock()

    def call(self, operation: str, body: Mapping[str, Any]) -> Any:
        headers = {"X-Amz-Target": TARGET_PREFIX + operation, "Content-Type": "application/x-amz-json-1.1"}
        for attempt in range(RECONNECTS + 1):
            connection = getattr(self.local, "connection", None)
            if connection is None:
                connection = self.local.connection = http.client.HTTPConnection(self.netloc)
            try:
                connection.request("POST", "/", json.dumps(body), headers)
                reply = connection.getresponse()
                payload = reply.read()
                break
            except ConnectionError:
                # Seen against the 1M-image sandbox (on the first requests of the run): reopen the
                # connection, as urllib3 does for botocore.
                connection.close()
                self.local.connection = None
                with self.lock:
                    self.reconnects += 1
                if attempt == RECONNECTS:
                    raise
        if reply.status != 200:
            raise RuntimeError(f"raw scanner: {operation} answered {reply.status}: {payload[:200]!r}")
        return json.loads(payload)


def raw_scan(environ: Mapping[str, str], workers: int) -> dict[str, Any]:
    """One measured raw scan of every repository (run it in a fresh process, as ecrgc's scans are)."""
    wire = _Wire(environ["AWS_ENDPOINT_URL"])
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    names = _repositories(wire)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        counts = list(pool.map(lambda name: _scan_one(wire, name), names))
    return {
        "wall_s": round(time.perf_counter() - start_wall, 2),
        "cpu_s": round(time.process_time() - start_cpu, 2),
        "images": sum(images for images, _ in counts),
        "children": sum(children for _, children in counts),
        "reconnects": wire.reconnects,
    }


def _repositories(wire: _Wire) -> list[str]:
    names: list[str] = []
    body: dict[str, Any] = {"maxResults": PAGE_SIZE}
    while True:
        page = wire.call("DescribeRepositories", body)
        names.extend(repo["repositoryName"] for repo in page["repositories"])
        if "nextToken" not in page:
            return names
        body["nextToken"] = page["nextToken"]


def _scan_one(wire: _Wire, name: str) -> tuple[int, int]:
    """How many images one repository holds and how many children its active indexes list."""
    body: dict[str, Any] = {
        "repositoryName": name,
        "filter": {"tagStatus": "ANY", "imageStatus": "ANY"},
        "maxResults": PAGE_SIZE,
    }
    count, children, indexes = 0, 0, []
    while True:
        page = wire.call("DescribeImages", body)
        for detail in page["imageDetails"]:
            count += 1
            is_index = detail.get("imageManifestMediaType") in INDEX_MEDIA_TYPES
            if is_index and detail["imageStatus"] == "ACTIVE":
                indexes.append(detail["imageDigest"])
        if "nextToken" not in page:
            break
        body["nextToken"] = page["nextToken"]
    for start in range(0, len(indexes), 100):
        ids = [{"imageDigest": digest} for digest in indexes[start : start + 100]]
        reply = wire.call(
            "BatchGetImage",
            {"repositoryName": name, "imageIds": ids, "acceptedMediaTypes": list(ACCEPTED_MEDIA_TYPES)},
        )
        children += sum(len(json.loads(image["imageManifest"])["manifests"]) for image in reply["images"])
    return count, children
