"""`Registry`: the one object the commands hold to read and change one ECR registry."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import replace
from itertools import islice
from typing import Any

from ecrgc.aws import inventory, mutations
from ecrgc.aws.client import (
    DEFAULT_MAX_ATTEMPTS,
    Credentials,
    RetryMode,
    caller_account,
    ecr_client,
    registry_session,
    sts_client,
)
from ecrgc.aws.inventory import RepositoryListing
from ecrgc.aws.replication import read_replication
from ecrgc.aws.transport import Transport
from ecrgc.model import Outcome, ReplicationRule, Repository

DEFAULT_WORKERS = 16
"""Repositories scanned at once. Measured in tests/bench/bench_plan_scan.py (1,000,000 images, 10 ms per
call, 2 cores): 8 → 72 s, 16 → 66 s, 32 → 85 s (threads then fight over the GIL: +40 % CPU)."""


class Registry:
    """One thread-safe ECR client (plus STS) for one region and registry, sized for `workers` threads.

    Methods may be called from several threads at once, up to `workers` of them: the connection pool has
    that many connections, so no thread waits for a connection.
    """

    def __init__(
        self,
        region: str,
        *,
        registry_id: str | None = None,
        workers: int = DEFAULT_WORKERS,
        retry_mode: RetryMode = "adaptive",
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        profile: str | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.region = region
        self.registry_id = registry_id
        self.workers = max(1, workers)
        self._options: dict[str, Any] = {
            "registry_id": registry_id,
            "workers": workers,
            "retry_mode": retry_mode,
            "max_attempts": max_attempts,
            "profile": profile,
            "credentials": credentials,
        }
        session = registry_session(profile, credentials)
        self.client = ecr_client(
            session,
            region,
            max_pool_connections=self.workers,
            retry_mode=retry_mode,
            max_attempts=max_attempts,
        )
        self._ecr = Transport(self.client, session)
        self._session = session  # STS's client is built when the account is first asked for
        self._account: str | None = None
        self._listed: dict[str, RepositoryListing] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        """A Registry pickles as what it was built from, plus its listing: a plan's worker process
        (`ecrgc.commands.planworkers`) builds its own clients, with the same credentials (those given, or
        the chain resolved the same way: same profile, same environment)."""
        return (_rebuilt, (self.region, self._options, self._listed))

    def caller_account(self) -> str:
        """The account id of the credentials in use (STS GetCallerIdentity, asked once: a plan needs it
        before its scan and again to read the registry's replication)."""
        if self._account is None:
            self._account = caller_account(sts_client(self._session, self.region))
        return self._account

    def replication(self) -> tuple[ReplicationRule, ...] | None:
        """The registry's replication rules; None when they cannot be known (`ecrgc.aws.replication`)."""
        return read_replication(self.client, self.registry_id or self.caller_account(), self.region)

    def list_repositories(self, selects: Callable[[str], bool]) -> list[RepositoryListing]:
        """(name, uri, registry id) of every repository `selects` accepts, sorted by name."""
        found = inventory.list_repositories(self._ecr, selects, registry_id=self.registry_id)
        self._listed.update((listing[0], listing) for listing in found)
        return found

    def scan_repository(self, name: str) -> Repository:
        """One repository with all its images; uri and registry id come from `list_repositories` if known."""
        _, uri, listed_in = self._listed.get(name, (name, "", ""))
        repository = inventory.scan_repository(self._ecr, name, uri=uri, registry_id=self.registry_id)
        return replace(repository, registry_id=listed_in) if listed_in else repository

    def scan(self, names: Iterable[str], *, workers: int | None = None) -> Iterator[Repository]:
        """Scans repositories concurrently and yields each as soon as it is complete (completion order).

        `names` are read as the scan goes, one more each time a repository is complete (a plan's worker
        process receives them so, from the main process); a name given twice is scanned once.
        Completion order, not name order: a sorted stream would hold every repository finished behind a
        large one, and the decision core does not depend on order (callers sort if they need to). At most
        `workers` repositories are in flight, so memory does not grow with their number unless the caller
        keeps them. The first failure stops the scan: the rest are cancelled and the error propagates.
        """
        threads = min(workers or self.workers, self.workers)
        todo = _distinct(names)
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ecrgc-scan") as pool:
            running = {pool.submit(self.scan_repository, name) for name in islice(todo, threads)}
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
                    running.update(pool.submit(self.scan_repository, name) for name in islice(todo, 1))

    def delete_images(self, repository: str, digests: Sequence[str]) -> list[Outcome]:
        """One Outcome per digest, deleted in BatchDeleteImage calls of at most 100, in the given order."""
        return mutations.delete_images(self.client, repository, digests, registry_id=self.registry_id)

    def archive_images(self, repository: str, digests: Sequence[str]) -> list[Outcome]:
        """One Outcome per digest, each moved to the ARCHIVE storage class."""
        return mutations.archive_images(self.client, repository, digests, registry_id=self.registry_id)

    def delete_repository_if_empty(self, name: str) -> Outcome:
        """Deletes the repository only if ECR finds it empty now (never `force`)."""
        return mutations.delete_repository_if_empty(self.client, name, registry_id=self.registry_id)


def _rebuilt(region: str, options: dict[str, Any], listed: dict[str, RepositoryListing]) -> Registry:
    registry = Registry(region, **options)
    registry._listed.update(listed)
    return registry


def _distinct(names: Iterable[str]) -> Iterator[str]:
    seen: set[str] = set()
    for name in names:
        if name not in seen:
            seen.add(name)
            yield name
