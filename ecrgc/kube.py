"""The only user of the kubernetes client: every image a cluster runs, may run again, or rolls back to.

For each context, every object that records an image (pods with their status, every workload and its
rollback history, job templates, and Argo Rollouts / Knative / KEDA objects when their CRDs exist) is
listed cluster-wide (pages of 500, consistent reads, raw JSON rather than the client's typed models, which
cost three times the CPU: see tests/bench/bench_kube.py) and reduced to `Use`s with their provenance
("prd · payments · Deployment/api") by `ecrgc.kubeobjects`, which knows the kinds and their fields.
Anything that cannot be read raises `SourceUnavailable`, naming the context and the resource: an unread
cluster must never look like a cluster that uses nothing.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import urllib3
from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from ecrgc.errors import SourceUnavailable
from ecrgc.kubeobjects import BUILTIN, CUSTOM, Object, Resource, dig, list_at, uses_of
from ecrgc.model import CURRENT_CONTEXT, InputFingerprint, InputKind, KubeContext, Usage, Use

log = logging.getLogger(__name__)

PAGE_SIZE = 500
GONE_ATTEMPTS = 3
"""A list whose continue token expires (410 Gone) is restarted; this many 410s in a row fail the run."""
DEFAULT_TIMEOUT = 60.0
_RBAC_HINT = "grant get/list on it (see ecrgc/contrib/kubernetes/rbac-cronjob.yaml)"

PageHook = Callable[[str, str, int], None]
"""Called after every page with (context, resource, objects so far): progress, and the tests' 410 trigger."""


def collect(
    contexts: Sequence[KubeContext],
    *,
    kubeconfig: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    page_size: int = PAGE_SIZE,
    on_page: PageHook | None = None,
) -> Usage:
    """Every image in use in every context (the union), with one fingerprint per cluster.

    `kubeconfig` defaults to $KUBECONFIG (several paths joined by ':' merge), then ~/.kube/config; the
    context named `CURRENT_CONTEXT` is the kubeconfig's current-context. `timeout` bounds each request
    (seconds). Raises SourceUnavailable when any context cannot be read completely.
    """
    usage = Usage()
    for context in contexts:
        usage += collect_context(
            context, kubeconfig=kubeconfig, timeout=timeout, page_size=page_size, on_page=on_page
        )
    return usage


def collect_context(
    context: KubeContext,
    *,
    kubeconfig: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    page_size: int = PAGE_SIZE,
    on_page: PageHook | None = None,
) -> Usage:
    """The images in use in one cluster; see `collect`."""
    name, api = connect(context, kubeconfig=kubeconfig)
    uses: set[Use] = set()
    with api:
        reader = _Reader(name, api, timeout, page_size, on_page)
        for resource, version in reader.resources():
            found, count = reader.uses(resource, version)
            log.info("%s: %d %s, %d uses", name, count, resource.label, len(found))
            if resource.plural == "pods" and not count and not context.allow_empty:
                raise SourceUnavailable(
                    f"kubernetes context {name!r}: the cluster returned no pods at all; refusing to treat it"
                    " as using nothing (set allowEmpty: true for this context if that is expected)"
                )
            uses |= found
    # A key, not the dataclass order: ImageRef's optional fields make `<` fail between None and a string.
    ordered = sorted(uses, key=lambda use: (str(use.ref), use.source))
    return Usage(uses=tuple(ordered), inputs=(InputFingerprint.of_uses(InputKind.KUBERNETES, name, uses),))


def connect(context: KubeContext, *, kubeconfig: str | None = None) -> tuple[str, ApiClient]:
    """(the context's real name, an ApiClient for it); `CURRENT_CONTEXT` resolves to current-context."""
    configuration = Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    where = "in-cluster service account" if context.in_cluster else f"kubeconfig {path}"
    try:
        if context.in_cluster:
            kube_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            name = context.name
        else:
            name = _context_name(context.name, path)
            kube_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=path, context=name, client_configuration=configuration, persist_config=False
            )
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        message = f"kubernetes context {context.name!r}: cannot load the {where}: {exc}"
        raise SourceUnavailable(message) from exc
    configuration.retries = 2  # transient connection errors only: a timeout should not cost four timeouts
    return name, ApiClient(configuration)


def _context_name(name: str, path: str) -> str:
    if name != CURRENT_CONTEXT:
        return name
    _, current = kube_config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
    return str(current["name"])


class _Reader:
    """Raw, paginated, consistent GETs against one cluster, every failure turned into SourceUnavailable."""

    def __init__(
        self, name: str, api: ApiClient, timeout: float, page_size: int, on_page: PageHook | None
    ) -> None:
        self.name, self.api, self.timeout, self.on_page = name, api, timeout, on_page
        self.page_size = page_size

    def resources(self) -> Iterator[tuple[Resource, str]]:
        """The built-in resources, then each custom resource discovery finds, with the version to read."""
        for resource in BUILTIN:
            yield resource, resource.version
        groups = {g["name"]: g for g in list_at(self.get("/apis", "API discovery"), "groups")}
        for resource in CUSTOM:
            if version := self._served_version(resource, groups.get(resource.group)):
                yield resource, version

    def _served_version(self, resource: Resource, group: Any) -> str | None:
        versions = [dig(v, "version") for v in list_at(group, "versions")]
        preferred = dig(group, "preferredVersion", "version")
        for version in sorted(versions, key=lambda v: v != preferred):
            listing = self.get(
                f"/apis/{resource.group}/{version}", f"API discovery of {resource.group}/{version}"
            )
            if any(r.get("name") == resource.plural for r in list_at(listing, "resources")):
                return str(version)
        return None

    def uses(self, resource: Resource, version: str) -> tuple[set[Use], int]:
        """The uses of every object (all namespaces) and how many objects there were; an expired continue
        token (410 Gone) restarts the list, so that the result is one consistent snapshot."""
        for _attempt in range(GONE_ATTEMPTS):
            uses: set[Use] = set()
            try:
                count = 0
                for obj in self._pages(resource, version):
                    uses.update(uses_of(obj, resource, cluster=self.name))
                    count += 1
                return uses, count
            except _Gone:
                log.warning("%s: the list of %s expired (410 Gone); restarting it", self.name, resource.label)
        raise SourceUnavailable(
            f"kubernetes context {self.name!r}: listing {resource.label} kept failing with 410 Gone"
            f" ({GONE_ATTEMPTS} attempts); the cluster changes faster than it can be listed, retry later"
        )

    def _pages(self, resource: Resource, version: str) -> Iterator[Object]:
        token, seen = "", 0
        while True:
            query = [("limit", self.page_size)] + ([("continue", token)] if token else [])
            page = self.get(resource.path(version), f"listing {resource.label}", query, gone_ok=bool(token))
            items = list_at(page, "items")
            yield from items
            seen += len(items)
            if self.on_page:
                self.on_page(self.name, resource.label, seen)
            token = dig(page, "metadata", "continue") or ""
            if not token:
                return

    def get(
        self, path: str, what: str, query: list[tuple[str, Any]] | None = None, *, gone_ok: bool = False
    ) -> Any:
        """GET `path` as JSON; resourceVersion is never sent, so every read is a consistent one."""
        try:
            request = self.api.param_serialize(
                "GET",
                path,
                query_params=query or [],
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
            response = self.api.call_api(
                *request[:3], _request_timeout=(min(self.timeout, 10.0), self.timeout)
            )
            body = response.read()  # type: ignore[no-untyped-call]
        except (urllib3.exceptions.HTTPError, ApiException, ConfigException, OSError) as exc:
            raise SourceUnavailable(
                f"kubernetes context {self.name!r}: {what} failed: {_cause(exc)}"
            ) from exc
        if response.status == 410 and gone_ok:
            raise _Gone
        if not 200 <= response.status < 300:
            raise SourceUnavailable(
                f"kubernetes context {self.name!r}: {what}: {_status(response.status, body)}"
            )
        try:
            return json.loads(body)
        except ValueError as exc:  # a proxy's HTML page, a truncated body
            raise SourceUnavailable(f"kubernetes context {self.name!r}: {what}: not JSON ({exc})") from exc


class _Gone(Exception):
    """A continue token expired."""


def _status(code: int, body: bytes) -> str:
    try:
        message = str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        message = body[:200].decode(errors="replace")
    match code:
        case 401:
            return f"unauthorized (401): the credential is missing, invalid or expired; renew it ({message})"
        case 403:
            return f"forbidden (403): {message}; {_RBAC_HINT}"
        case _:
            return f"HTTP {code}: {message}"


def _cause(exc: BaseException) -> str:
    """The innermost reason of a urllib3 failure (a timeout, a refused connection, a TLS error)."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        return _cause(reason)
    return f"{type(exc).__name__}: {reason or exc}"
