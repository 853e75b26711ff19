"""The vocabulary of ecrgc: frozen values shared by the decision core, the adapters and the views.

Nothing here does I/O or knows an SDK's shapes; adapters convert foreign dicts at the edge
(`aws.images_from_ecr`, `kube.uses_from_pod` …). Timestamps are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import msgspec

INDEX_MEDIA_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    }
)
"""Manifest media types whose manifest lists other manifests (its children)."""

_COSIGN_TAG = re.compile(r"^sha256-([0-9a-f]{64})\.(sig|att|sbom)$")


class ImageStatus(StrEnum):
    """ECR's imageStatus: archived images are invisible unless asked for."""

    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"
    ACTIVATING = "ACTIVATING"


class Action(StrEnum):
    """What the plan does to one image."""

    KEEP = "keep"
    DELETE = "delete"
    ARCHIVE = "archive"


class Reason(StrEnum):
    """Why an image gets its action. Kept reasons are listed in precedence order."""

    IN_USE = "in_use"
    PART_OF_KEPT_IMAGE = "part_of_kept_image"
    HELD_TAG = "held_tag"
    NEWEST_N = "newest_n"
    TOO_YOUNG = "too_young"
    RECENTLY_PULLED = "recently_pulled"
    UNTAGGED_NOT_SELECTED = "untagged_not_selected"
    ALREADY_ARCHIVED = "already_archived"
    EXPIRED = "expired"
    WITH_PARENT = "with_parent"

    @property
    def keeps(self) -> bool:
        """True for the reasons that keep an image."""
        return self not in (Reason.EXPIRED, Reason.WITH_PARENT)


class Image(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One manifest in one repository, as the registry describes it.

    A msgspec Struct, not a dataclass: one is built per image scanned, and its constructor runs in C (0.3 µs
    against a frozen dataclass's 3 µs, issue 14). `gc=False`: it holds only strings, datetimes, an enum and
    tuples of strings, so it can be in no reference cycle and the cyclic collector need not track a million
    of them. Copy one with `msgspec.structs.replace`.
    """

    repository: str
    digest: str
    tags: tuple[str, ...] = ()
    pushed_at: datetime
    last_pulled_at: datetime | None = None
    size_bytes: int = 0
    media_type: str = ""
    artifact_type: str | None = None
    subject: str | None = None
    """subjectManifestDigest: this image is an OCI 1.1 referrer (signature, SBOM …) of that digest."""
    children: tuple[str, ...] = ()
    """For an index: the digests of the manifests it lists (learnt from its manifest)."""
    status: ImageStatus = ImageStatus.ACTIVE
    children_known: bool = True
    """False for an index whose manifest cannot be read because it is archived (or being restored): its
    `children` are then empty for want of knowing them, not because it lists nothing."""

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES

    @property
    def referent(self) -> str | None:
        """The digest this image is attached to: its OCI subject, else a cosign `sha256-<hex>.sig` tag's."""
        if self.subject:
            return self.subject
        for tag in self.tags:
            if tag.startswith("sha256-") and (match := _COSIGN_TAG.match(tag)):
                return f"sha256:{match.group(1)}"
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Repository:
    """One ECR repository and every image in it (archived ones included)."""

    name: str
    uri: str = ""
    registry_id: str = ""
    images: tuple[Image, ...] = ()


THIS_REGISTRY = ""
"""The host of a reference an image list holds without one: a repository of the registry being planned.

The seed wrote and read its lists so (`list_img.sh` and `k8s.FetchInUseImages` cut each image up to its
first `/`; `ecr.FilterImagesForDeletion` compares `repository:tag`)."""


class ImageRef(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed image reference. `account`/`region` are set only for this or another ECR registry; `host`
    is `THIS_REGISTRY` for an image-list line without one."""

    host: str
    repository: str
    tag: str | None = None
    digest: str | None = None
    account: str | None = None
    region: str | None = None

    def __str__(self) -> str:
        text = f"{self.host}/{self.repository}" if self.host else self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


class Use(msgspec.Struct, frozen=True, kw_only=True):
    """One reference in use, and who uses it ("prd · payments · Deployment/api", "IMG_LIST/x.txt:12")."""

    ref: ImageRef
    source: str


class InputKind(StrEnum):
    IMAGE_LIST = "image_list"
    KUBERNETES = "kubernetes"
    ECS = "ecs"
    LAMBDA = "lambda"
    BATCH = "batch"
    APP_RUNNER = "app_runner"


class InputFingerprint(msgspec.Struct, frozen=True, kw_only=True, order=True):
    """A source of truth that was read, so a reviewer (and apply) knows what the plan stands on."""

    kind: InputKind
    name: str
    sha256: str = ""
    references: int = 0
    # What the plan found the input says about the registry planned (0 until planned): distinct references
    # naming it, naming another ECR account or region, naming another registry, and images they protect.
    this_registry: int = 0
    other_accounts: int = 0
    other_registries: int = 0
    protected: int = 0

    @classmethod
    def of_uses(cls, kind: InputKind, name: str, uses: Iterable[Use]) -> InputFingerprint:
        """What was read from a live source: its distinct references and a digest of their sorted list."""
        refs = sorted({str(use.ref) for use in uses})
        digest = hashlib.sha256("".join(f"{ref}\n" for ref in refs).encode()).hexdigest()
        return cls(kind=kind, name=name, sha256=digest, references=len(refs))


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """Everything in use according to the configured sources (union over all of them)."""

    uses: tuple[Use, ...] = ()
    inputs: tuple[InputFingerprint, ...] = ()
    owners: tuple[int, ...] = field(default=(), compare=False)
    """`uses[i]` was read from `inputs[owners[i]]`; empty: every use is the one input's (or is nobody's)."""

    def __add__(self, other: Usage) -> Usage:
        shifted = tuple(owner + len(self.inputs) if owner >= 0 else owner for owner in other._owners())
        return Usage(
            uses=self.uses + other.uses, inputs=self.inputs + other.inputs, owners=self._owners() + shifted
        )

    def by_input(self) -> list[tuple[InputFingerprint, list[Use]]]:
        """Each input with the uses read from it, in the order of `inputs`."""
        grouped: list[tuple[InputFingerprint, list[Use]]] = [(fingerprint, []) for fingerprint in self.inputs]
        for use, owner in zip(self.uses, self._owners(), strict=True):
            if owner >= 0:
                grouped[owner][1].append(use)
        return grouped

    def _owners(self) -> tuple[int, ...]:
        if self.owners or not self.uses:
            return self.owners
        return ((0 if len(self.inputs) == 1 else -1),) * len(self.uses)  # -1: a use of no known input


class Pattern(msgspec.Struct, frozen=True, kw_only=True):
    """A tag or repository pattern; `source` uses re.search semantics plus the seed's `OR` / `&&`.

    `alternatives` is the parsed form: any alternative matches when all of its regexes match.
    """

    source: str
    alternatives: tuple[tuple[re.Pattern[str], ...], ...]
    """Parsed from `source` (`ecrgc.patterns`), so equal and hashed alike whenever `source` is."""

    def search(self, text: str) -> bool:
        return any(all(rx.search(text) for rx in conj) for conj in self.alternatives)

    def tags_holding(self, tags: Iterable[str]) -> tuple[str, ...]:
        """The tags that together match: for the first alternative whose every regex matches at least one
        of `tags`, the smallest tag each regex matches (distinct, sorted); () when no alternative does.

        This is how `holdTags` judges an image: the seed tested its pattern against the image's tag list
        printed as one string, so `candidate&&2\\.87` held an image tagged `2.87.0-rc1` and `candidate`.
        """
        ordered = sorted(tags)
        for conj in self.alternatives:
            found = [next((tag for tag in ordered if rx.search(tag)), None) for rx in conj]
            if all(tag is not None for tag in found):
                return tuple(sorted({tag for tag in found if tag is not None}))
        return ()


CURRENT_CONTEXT = "current"
"""The context name that means the kubeconfig's current-context (what the seed's `kubectl` read)."""

IN_CLUSTER = "in-cluster"
"""The name of the `KubeContext` for `inCluster: true` (the pod's own cluster and service account)."""


class KubeContext(msgspec.Struct, frozen=True, kw_only=True):
    """One cluster to read: a kubeconfig context, or the pod's own service account (`in_cluster`)."""

    name: str
    in_cluster: bool = False
    allow_empty: bool = False


class AwsAccount(msgspec.Struct, frozen=True, kw_only=True, order=True):
    """One more account (and its regions) whose AWS-native workloads pull from the registry."""

    role_arn: str | None = None
    """The role to assume with STS; None: the plan's own credentials."""
    regions: tuple[str, ...] = ()
    """Empty: the registry's region."""


class AwsProtection(msgspec.Struct, frozen=True, kw_only=True):
    """Which AWS services' workloads count as in use (`protect.aws`), and in which accounts besides the
    registry's own."""

    ecs_revisions: int | None = None
    """ECS is read when set: per family, the newest this many ACTIVE task-definition revisions."""
    lambda_functions: bool = False
    batch: bool = False
    app_runner: bool = False
    accounts: tuple[AwsAccount, ...] = ()


class Protection(msgspec.Struct, frozen=True, kw_only=True):
    """The sources of in-use images a policy names."""

    kubernetes: tuple[KubeContext, ...] = ()
    image_lists: tuple[str, ...] = ()
    """`protect.imageLists` paths and globs, in the policy's order."""
    empty_lists_allowed: frozenset[str] = frozenset()
    """The entries of `image_lists` set `allowEmpty: true`: a list there may hold no reference."""
    aws: AwsProtection = AwsProtection()


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """One validated policy document. `document` is the canonical JSON form that the plan embeds."""

    name: str
    region: str | None
    """None: the policy is attached to targets (targets.yaml), each of which gives region and registry."""
    registry_id: str | None = None
    include: tuple[Pattern, ...]
    exclude: tuple[Pattern, ...] = ()
    untagged: bool = True
    hold_tags: tuple[Pattern, ...] = ()
    keep_latest: int
    older_than: timedelta | None = None
    not_pulled_for: timedelta | None = None
    protect: Protection = field(default_factory=Protection)
    action: Action = Action.DELETE
    delete_empty_repositories: bool = False
    source: str = ""
    directory: Path = Path()
    """Where the relative paths of `protect.imageLists` resolve: the policy file's directory (the working
    directory for a policy made from the seed's variables, which the seed read its lists from)."""
    document: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def selects(self, repository: str) -> bool:
        """True when the repository matches an include pattern and no exclude pattern."""
        return any(p.search(repository) for p in self.include) and not any(
            p.search(repository) for p in self.exclude
        )


# --- the evidence a decision stands on: data, no prose (the words are written in `render.evidence`) ------
# Each record holds only what the image, the policy and the plan's time do not give; all are cheap (one is
# built for every image) and made of str, int, tuples of str and enums, so a plan file can record them.
# msgspec Structs, as `Image` is: `Ages(…)` costs 0.05 µs against the frozen dataclass's 0.7 µs, and
# `gc=False` (nothing in them can refer back) keeps a million of them out of the cyclic collector.


class UsedBy(msgspec.Struct, frozen=True, gc=False):
    """IN_USE: these sources (all of them, sorted and distinct) use the image, by digest or a tag of it."""

    sources: tuple[str, ...]


class ListsInUse(msgspec.Struct, frozen=True, gc=False):
    """IN_USE: the index lists (at any depth) the in-use manifest `child`, which `sources` use."""

    child: str
    sources: tuple[str, ...]


class Relation(StrEnum):
    """How an image is part of its parent."""

    LISTED = "listed"
    """The parent is an index whose manifest lists it."""
    ATTACHED = "attached"
    """It is attached to the parent: an OCI referrer of it (subject), or a cosign `sha256-….sig` tag."""


class PartOf(msgspec.Struct, frozen=True, gc=False):
    """PART_OF_KEPT_IMAGE: part of the kept image `parent`. WITH_PARENT (and ALREADY_ARCHIVED for such an
    image): goes with `parent`, which is removed."""

    parent: str
    relation: Relation


class MaybeChildOf(msgspec.Struct, frozen=True, gc=False):
    """PART_OF_KEPT_IMAGE: may be a child of the kept index `index`, whose manifest cannot be read since it
    is `status` (archived, or being restored)."""

    index: str
    status: ImageStatus


class HeldBy(msgspec.Struct, frozen=True, gc=False):
    """HELD_TAG: the hold pattern `pattern` (its source text) matches `tags`: one tag whole (`together`
    False), or the tags together (`together` True: every `&&` part of one `OR` part matches one of them)."""

    pattern: str
    tags: tuple[str, ...]
    together: bool


class Newest(msgspec.Struct, frozen=True, gc=False):
    """NEWEST_N: `rank` (1 is the newest) among the `of` newest top-level images kept, `keep_latest` the
    policy's number (`of` is smaller when fewer images compete)."""

    rank: int
    of: int
    keep_latest: int


class Ages(msgspec.Struct, frozen=True, gc=False):
    """TOO_YOUNG, RECENTLY_PULLED, UNTAGGED_NOT_SELECTED, EXPIRED (and ALREADY_ARCHIVED for an expired
    image): whole seconds from the push, and from the pull the rules judged by, to the plan's time.

    `pulled` is None when never pulled. An index is judged by its children's latest pull (its own pull time
    is ecrgc reading its manifest), so `pulled` may differ from the image's `last_pulled_at`."""

    pushed: int
    pulled: int | None


Evidence = UsedBy | ListsInUse | PartOf | MaybeChildOf | HeldBy | Newest | Ages
"""What a decision stands on. ALREADY_ARCHIVED carries what the image would have been removed for (`PartOf`:
with its parent, `Ages`: expired); its status is the image's."""


class Decision(msgspec.Struct, frozen=True, gc=False):
    """The one decision for one image, and the evidence it stands on.

    A msgspec Struct, as `Image` is (one per image; its records hold no reference back, so no cycle).
    Positional arguments are allowed: the decision core builds one per image (0.09 µs so, 0.2 by keyword)."""

    image: Image
    action: Action
    reason: Reason
    evidence: Evidence

    @property
    def parent(self) -> str | None:
        """The index or image it goes with or is kept for (the plan records it with the action)."""
        # Read once per image recorded: `type() is` tests, not a `match` (which costs ~4x as much).
        evidence = self.evidence
        if type(evidence) is PartOf:
            return evidence.parent
        if type(evidence) is MaybeChildOf:
            return evidence.index
        return None


class PlannedAction(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One image's decision as recorded in the plan file: an image the plan deletes or archives
    (`Plan.actions`), or one it keeps (`Plan.kept`, action KEEP, with the reason that keeps it).

    A msgspec Struct, as `Image` is: a plan builds one per image it records and a loaded plan one per
    image read, and its constructor runs in C (0.7 µs against the frozen dataclass's 5 µs here, issue 14).
    `gc=False`: its evidence and the rest are frozen values that cannot refer back to it. Copy one with
    `msgspec.structs.replace`."""

    repository: str
    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    last_pulled_at: datetime | None
    size_bytes: int
    media_type: str
    action: Action
    reason: Reason
    parent: str | None = None
    policy: str
    evidence: Evidence | None = None
    """Why a kept image is kept (None for a removed image: its record says why; or when not known)."""


class RecordedDecision(msgspec.Struct, frozen=True, kw_only=True):
    """One image's decision as a plan file records it, the embedded policy that made it (None: the plan
    embeds none of the record's name, a hand-edited plan) and who uses the image: explain's and
    show --images's facts."""

    image: PlannedAction
    policy: Policy | None
    sources: tuple[str, ...] = ()
    evidence: Evidence | None = None
    """The record's evidence, or what its record gives (an expired image's ages at the plan's time)."""


class ProtectedImage(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An image kept because it is in use, with every source that uses it.

    A msgspec Struct, as `PlannedAction` is: a plan builds one per image in use, and so does a loaded plan
    (0.2 µs against the frozen dataclass's 4 µs here). Copy one with `msgspec.structs.replace`."""

    repository: str
    digest: str
    tags: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyRecord:
    """A policy as embedded in a plan: apply re-collects its protection sources from `document`."""

    name: str
    sha256: str
    document: Mapping[str, Any] = field(compare=True, hash=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class RepositorySummary:
    """Counts for one repository: what was scanned, kept (by reason) and removed."""

    repository: str
    policy: str
    scanned: int
    kept: Mapping[Reason, int] = field(hash=False)
    deleted: int
    archived: int
    bytes_reclaimed: int
    delete_repository: bool = False


class PolicyMatch(StrEnum):
    """A policy embedded in a plan, compared with the repository's policy of the same name."""

    MATCHES = "matches"
    """The same canonical document (sha256): the plan was made from the repository's policy."""
    DIFFERS = "differs"
    """Another document: apply and plan --check refuse the plan."""
    MISSING = "missing"
    """The repository has no policy of that name for the plan's target: refused too."""


class ReplicaDestination(msgspec.Struct, frozen=True, kw_only=True, order=True):
    """A registry that a replication rule copies the planned registry's pushes to."""

    account: str
    region: str
    target: str | None = None
    """Its name in targets.yaml when it is a target too (planned on its own), else None."""


class ReplicationRule(msgspec.Struct, frozen=True, kw_only=True, order=True):
    """One rule of the planned registry's replication configuration (DescribeRegistry)."""

    destinations: tuple[ReplicaDestination, ...]
    prefixes: tuple[str, ...] = ()
    """Its PREFIX_MATCH repository filters; empty: every repository is replicated."""
    delete_replication: bool = False
    """deleteReplication.enabled: ECR then deletes in the destinations what is deleted here."""

    def covers(self, repository: str) -> bool:
        """True when the rule replicates `repository`."""
        return not self.prefixes or any(repository.startswith(p) for p in self.prefixes)


def expired(expires_at: datetime, now: datetime) -> bool:
    """True once `now` has reached `expires_at`: the one expiry boundary of `plans list` and `apply`."""
    return now >= expires_at


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """The canonical record that is reviewed and applied; `planfile` is the only module knowing its format."""

    format_version: str
    ecrgc_version: str
    created_at: datetime
    expires_at: datetime
    account: str
    region: str
    policies: tuple[PolicyRecord, ...]
    inputs: tuple[InputFingerprint, ...]
    actions: Sequence[PlannedAction]
    """The images deleted or archived: a tuple, or (a loaded `.json.gz` plan) a light view of its columns."""
    repository_deletions: tuple[str, ...]
    protected: tuple[ProtectedImage, ...]
    """The kept images in use, with their sources (the plan file folds them into their `kept` records)."""
    summary: tuple[RepositorySummary, ...]
    replication: tuple[ReplicationRule, ...] | None = None
    """The registry's replication rules when planned; None when they were not read."""
    kept: Sequence[PlannedAction] = ()
    """Every image kept (action KEEP), with its reason: every image's decision is recorded."""
    sha256: str = field(default="", compare=False)
    """The content hash the plan file's loader verified ("" for a plan made in memory, not loaded)."""


DEFAULT_APPLY_WORKERS = 8
"""Repositories applied at once (the CLI sizes the registry's connection pool to match)."""


class OnDrift(StrEnum):
    """What apply does when some action's preconditions no longer hold."""

    SKIP = "skip"
    """Apply the rest; report each drifted image as skipped, with why."""
    ABORT = "abort"
    """Apply nothing at all."""


class OutcomeStatus(StrEnum):
    """What apply did with one planned action."""

    DELETED = "deleted"
    ARCHIVED = "archived"
    ALREADY_ABSENT = "already_absent"
    SKIPPED = "skipped"
    FAILED = "failed"
    WOULD_APPLY = "would_apply"


class OutcomeReason(StrEnum):
    """Why apply left a planned image (or repository) alone, or how the registry answered for it."""

    TAGS_CHANGED = "tags_changed"
    """Skipped: a tag moved onto the image or away from it since the plan."""
    RELATION_CHANGED = "relation_changed"
    """Skipped: the parent the plan names for it is there but neither lists it nor is its subject."""
    KEPT = "kept"
    """Skipped: a fresh decision keeps it now; `Outcome.kept_by` says by which rule."""
    ACTION_CHANGED = "action_changed"
    """Skipped: a fresh decision removes it another way (delete vs archive)."""
    NOT_SELECTED = "not_selected"
    """Skipped: no policy of the repository removes it (or its empty repository) for the plan's policy."""
    PARENT_KEPT = "parent_kept"
    """Skipped: it goes with a live parent (index, subject) that this apply did not remove."""
    IMAGES_LEFT = "images_left"
    """A repository skipped: some of its planned images were not removed."""
    ABORTED = "aborted"
    """Skipped: `--on-drift=abort` found drift elsewhere, so nothing was applied."""
    UNREADABLE = "unreadable"
    """Failed: the repository (or what verifies it) could not be read; `code` names the error."""
    ALREADY_ARCHIVED = "already_archived"
    """Already absent: archived (or being restored) already."""
    NOT_FOUND = "not_found"
    """Already absent: the registry no longer has it (`code`: ImageNotFound …)."""
    REFERENCED = "referenced"
    """Skipped by the registry: an index still lists it (ImageReferencedByManifestList)."""
    NOT_EMPTY = "not_empty"
    """A repository skipped by the registry: it is not empty (RepositoryNotEmptyException)."""
    REGISTRY_ERROR = "registry_error"
    """Failed: the registry refused or did not answer; `code` is its error code."""


class Outcome(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The result for one planned image (or repository, when `digest` is empty). A msgspec Struct, as
    `Image` is: apply makes one per image (`gc=False`: it holds strings and enums, no cycle)."""

    repository: str
    digest: str
    status: OutcomeStatus
    reason: OutcomeReason | None = None
    """None when it was done as planned (or would be, in a dry run)."""
    kept_by: Reason | None = None
    """With KEPT: the rule that keeps the image now."""
    code: str = ""
    """The registry's error code (ECR's failureCode or error code, or the client's exception name)."""
    detail: str = ""
