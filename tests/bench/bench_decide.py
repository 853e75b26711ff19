"""Benchmark: `ecrgc.decide.decide` over a synthetic 1,000,000-image inventory in 2,000 repositories.

The inventory is built in memory once (not timed): per repository 500 images, of which about 5 % are
indexes with two platform manifests each and 5 % carry a cosign signature image; 70 % of the top-level
images are tagged, some with release tags that the policy holds; 10,000 uses name digests and tags. Then
every repository is decided, REPEAT times; the report gives the median wall and CPU time of a full pass
(the garbage collector stays on, as in `ecrgc plan`) and the decisions per reason.

    ECRGC_BENCH_SCALE=small|full (default full: 2,000 x 500 images; small: 20 x 500)
    ECRGC_BENCH_REPOSITORIES=N   N x 500 images instead (200: the 100,000 images of issue 14's profile)
    ECRGC_BENCH_REPEAT=N         full passes (default 3); medians are reported
"""

from __future__ import annotations

import hashlib
import os
import random
import resource
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from ecrgc.decide import InUse, decide, in_use
from ecrgc.model import Image, Policy, Repository, Usage, Use
from ecrgc.patterns import compile_pattern
from ecrgc.refs import ecr_host, parse_reference

ACCOUNT, REGION = "123456789012", "eu-west-1"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
IMAGES_PER_REPOSITORY = 500
INDEX = "application/vnd.oci.image.index.v1+json"
POLICY = Policy(
    name="bench",
    region=REGION,
    include=(compile_pattern("."),),
    hold_tags=(compile_pattern(r"^v\d+\.\d+\.0$"), compile_pattern("^prod")),
    keep_latest=10,
    older_than=timedelta(days=30),
    not_pulled_for=timedelta(days=90),
)


def run() -> dict[str, object]:
    """Build the inventory, decide it REPEAT times, report medians."""
    scale = "20" if os.environ.get("ECRGC_BENCH_SCALE") == "small" else "2000"
    repositories_count = int(os.environ.get("ECRGC_BENCH_REPOSITORIES", scale))
    repeat = int(os.environ.get("ECRGC_BENCH_REPEAT", "3"))
    start = time.perf_counter()
    inventory = [_repository(n, random.Random(n)) for n in range(repositories_count)]
    uses = in_use(_usage(inventory, random.Random(-1)), account=ACCOUNT, region=REGION)
    built = time.perf_counter() - start
    passes = [_decide_all(inventory, uses) for _ in range(repeat)]
    walls, cpus = [p[0] for p in passes], [p[1] for p in passes]
    images = sum(len(r.images) for r in inventory)
    return {
        "repositories": repositories_count,
        "images": images,
        "uses": sum(map(len, uses.digests.values())) + sum(map(len, uses.tags.values())),
        "build_seconds": round(built, 1),
        "wall_seconds": [round(w, 2) for w in walls],
        "cpu_seconds": [round(c, 2) for c in cpus],
        "wall_seconds_median": round(statistics.median(walls), 2),
        "cpu_seconds_median": round(statistics.median(cpus), 2),
        "microseconds_per_image": round(statistics.median(walls) / images * 1e6, 2),
        "decisions": dict(sorted(passes[0][2].items())),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


def _decide_all(inventory: list[Repository], uses: InUse) -> tuple[float, float, Counter[str]]:
    reasons: Counter[str] = Counter()
    wall, cpu = time.perf_counter(), time.process_time()
    for repository in inventory:
        reasons.update(d.reason.value for d in decide(repository, uses, POLICY, now=NOW))
    return time.perf_counter() - wall, time.process_time() - cpu, reasons


def _repository(number: int, rnd: random.Random) -> Repository:
    name = f"team-{number % 50}/service-{number}"
    images: list[Image] = []
    while len(images) < IMAGES_PER_REPOSITORY:
        images += _top_level(name, len(images), rnd)
    return Repository(name=name, images=tuple(images[:IMAGES_PER_REPOSITORY]))


def _top_level(repository: str, position: int, rnd: random.Random) -> list[Image]:
    """One top-level image (an index with its two platform manifests 5 % of the time), maybe signed."""
    pushed = NOW - timedelta(hours=rnd.randrange(24 * 700))
    pulled = None if rnd.random() < 0.3 else pushed + (NOW - pushed) * rnd.random()
    tags = (_tag(position, rnd),) if rnd.random() < 0.7 else ()
    digest = _digest(repository, position)
    made = [Image(repository=repository, digest=digest, tags=tags, pushed_at=pushed, last_pulled_at=pulled)]
    if rnd.random() < 0.05:
        children = (_digest(repository, position, "amd64"), _digest(repository, position, "arm64"))
        made = [Image(repository=repository, digest=d, pushed_at=pushed) for d in children]
        made.append(
            Image(
                repository=repository,
                digest=digest,
                tags=tags,
                pushed_at=pushed,
                last_pulled_at=pulled,
                media_type=INDEX,
                children=children,
            )
        )
    if rnd.random() < 0.05:
        signature = f"sha256-{digest.removeprefix('sha256:')}.sig"
        made.append(
            Image(
                repository=repository,
                digest=_digest(repository, position, "sig"),
                tags=(signature,),
                pushed_at=pushed,
            )
        )
    return made


def _tag(position: int, rnd: random.Random) -> str:
    if rnd.random() < 0.05:
        return f"v{position // 100}.{position % 100 // 10}.{position % 10}"
    return f"build-{position}"


def _digest(repository: str, position: int, part: str = "") -> str:
    return f"sha256:{hashlib.sha256(f'{repository}/{position}/{part}'.encode()).hexdigest()}"


def _usage(inventory: list[Repository], rnd: random.Random) -> Usage:
    """10,000 uses (fewer at small scale): half by digest, half by tag, in the canonical host spelling."""
    host = ecr_host(ACCOUNT, REGION)
    uses = []
    for number in range(min(10_000, 5 * len(inventory) * 10)):
        repository = rnd.choice(inventory)
        image = rnd.choice(repository.images)
        suffix = f":{image.tags[0]}" if image.tags and number % 2 else f"@{image.digest}"
        uses.append(Use(ref=parse_reference(f"{host}/{repository.name}{suffix}"), source=f"bench:{number}"))
    return Usage(uses=tuple(uses))
