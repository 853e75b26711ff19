"""The registry's state and ECR's rules over it: push, pull, delete, archive, repositories.

One lock serialises every call (a page of 1000 is built in well under a millisecond, so a finer scheme would
buy nothing). Seed methods (`push_image`, `push_referrer`, `push_cosign_signature`, `archive`) go through
the same `store` as PutImage, so seeded and pushed images obey the same rules.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ecrgc.sandbox import deletion, exceptions, manifests
from ecrgc.sandbox.deletion import Failure, ImageId, failure
from ecrgc.sandbox.knobs import Clock, Knobs
from ecrgc.sandbox.ordering import CursorIndex
from ecrgc.sandbox.repository import ACTIVATING, ACTIVE, ARCHIVED, RepositoryState, StoredImage

_DIGEST = re.compile(r"^[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+$")
Moment = datetime | float | None


class Registry:
    """Every repository of one account in one region."""

    def __init__(self, account: str, region: str, clock: Clock, knobs: Knobs) -> None:
        self.account = account
        self.region = region
        self.clock = clock
        self.knobs = knobs
        self.lock = threading.RLock()
        self.repositories: dict[str, RepositoryState] = {}
        self.order: CursorIndex[str] = CursorIndex()
        self.replication: dict[str, Any] = {"rules": []}
        """DescribeRegistry's replicationConfiguration (set through `sandbox.replication.checked`)."""
        self.shared_with: set[str] = set()
        """Other accounts allowed every ECR call on this registry (`registryId` = this account): the
        sandbox's stand-in for a registry or repository policy that grants them."""

    def _at(self, moment: Moment) -> float:
        if moment is None:
            return self.clock.now()
        return moment.timestamp() if isinstance(moment, datetime) else float(moment)

    def uri(self, name: str) -> str:
        """`{account}.dkr.ecr.{region}.amazonaws.com/{name}`."""
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{name}"

    def get(self, name: str) -> RepositoryState:
        """The repository, or RepositoryNotFoundException."""
        repo = self.repositories.get(name)
        if repo is None:
            raise exceptions.repository_not_found(name, self.account)
        return repo

    def create_repository(
        self, name: str, *, mutability: str = "MUTABLE", created_at: Moment = None, exist_ok: bool = False
    ) -> RepositoryState:
        """A new empty repository (RepositoryAlreadyExistsException unless `exist_ok`)."""
        with self.lock:
            if name in self.repositories:
                if exist_ok:
                    return self.repositories[name]
                raise exceptions.ApiError(
                    "RepositoryAlreadyExistsException",
                    f"The repository with name '{name}' already exists "
                    f"in the registry with id '{self.account}'",
                )
            repo = RepositoryState(name=name, created_at=self._at(created_at), mutability=mutability)
            self.repositories[name] = repo
            self.order.add(name)
            return repo

    def delete_repository(self, name: str, *, force: bool = False) -> RepositoryState:
        """Remove a repository; without `force` only an empty one (RepositoryNotEmptyException)."""
        with self.lock:
            repo = self.get(name)
            if repo.images and not force:
                raise exceptions.ApiError(
                    "RepositoryNotEmptyException",
                    f"The repository with name '{name}' in registry with id '{self.account}' "
                    "cannot be deleted because it still contains images",
                )
            del self.repositories[name]
            self.order.discard(name)
            return repo

    def store(
        self,
        name: str,
        manifest: str,
        facts: manifests.ManifestFacts,
        *,
        digest: str | None = None,
        tags: Iterable[str] = (),
        pushed_at: Moment = None,
    ) -> StoredImage:
        """Insert a new image (children must exist) and attach `tags`; the common path of push and seed."""
        repo = self.get(name)
        digest = digest or manifests.digest_of(manifest)
        image = repo.images.get(digest)
        if image is None:
            size = facts.size
            if facts.children:
                missing = [c for c in facts.children if c not in repo.images]
                if missing:
                    raise exceptions.ApiError(
                        "ReferencedImagesNotFoundException",
                        f"The following referenced images were not found: [{', '.join(missing)}]",
                    )
                # ECR reports an index's size as its largest child's.
                size = max(repo.images[c].size for c in facts.children)
            image = StoredImage(
                digest,
                manifest,
                facts.media_type,
                self._at(pushed_at),
                size,
                children=facts.children,
                subject=facts.subject,
                artifact_type=facts.artifact_type,
            )
            repo.add(image)
        for tag in tags:
            repo.tag(image, tag)
        return image

    def put_image(
        self,
        name: str,
        manifest: str,
        *,
        media_type: str | None = None,
        tag: str | None = None,
        digest: str | None = None,
    ) -> StoredImage:
        """PutImage's rules on top of `store`: digest check, duplicate push, immutable tags."""
        with self.lock:
            repo = self.get(name)
            actual = manifests.digest_of(manifest)
            if digest is not None and digest != actual:
                raise exceptions.ApiError(
                    "ImageDigestDoesNotMatchException",
                    f"Invalid parameter at 'imageDigest' failed to satisfy constraint: "
                    f"'provided digest {digest} does not match the manifest digest {actual}'",
                )
            existing = repo.images.get(actual)
            if existing is not None and (tag is None or tag in existing.tags):
                raise exceptions.ApiError(
                    "ImageAlreadyExistsException",
                    f"Image with digest '{actual}' and tag '{tag or 'null'}' already exists "
                    f"in the repository with name '{name}' in registry with id '{self.account}'",
                )
            if tag is not None and repo.mutability == "IMMUTABLE" and tag in repo.tags:
                raise exceptions.ApiError(
                    "ImageTagAlreadyExistsException",
                    f"The image tag '{tag}' already exists in the '{name}' repository "
                    "and cannot be overwritten because the repository is immutable.",
                )
            try:
                facts = manifests.parse(manifest, media_type)
            except manifests.ManifestError as exc:
                raise exceptions.invalid(
                    f"Invalid parameter at 'ImageManifest' failed to satisfy constraint: '{exc}'"
                ) from exc
            return self.store(name, manifest, facts, digest=actual, tags=[tag] if tag else [])

    def find(self, repo: RepositoryState, image_id: ImageId) -> StoredImage | Failure:
        """The image an imageId names, or the per-item failure ECR answers for it."""
        digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
        if not digest and not tag:
            return failure(
                image_id,
                "MissingDigestAndTag",
                "Invalid request parameters: both tag and digest cannot be null",
            )
        if digest and not _DIGEST.match(digest):
            return failure(
                image_id, "InvalidImageDigest", "Invalid request parameters: image digest is invalid"
            )
        if tag:
            tagged = repo.tags.get(tag)
            if tagged is None:
                return failure(image_id, "ImageNotFound", "Requested image not found")
            if digest and tagged != digest:
                return failure(
                    image_id,
                    "ImageTagDoesNotMatchDigest",
                    "Invalid request parameters: given tag does not map to the given digest",
                )
            digest = tagged
        image = repo.images.get(digest or "")
        if image is None:
            return failure(image_id, "ImageNotFound", "Requested image not found")
        return image

    def pull(
        self, name: str, image_ids: Sequence[ImageId], accepted: Iterable[str] = ()
    ) -> tuple[list[tuple[StoredImage, ImageId]], list[Failure]]:
        """BatchGetImage: the images found (their pull time recorded) and the per-item failures."""
        with self.lock:
            repo = self.get(name)
            now = self.clock.now()
            media_types = frozenset(accepted) or manifests.DEFAULT_ACCEPTED
            found: list[tuple[StoredImage, ImageId]] = []
            failures: list[Failure] = []
            for image_id in image_ids:
                image = self.find(repo, image_id)
                if isinstance(image, dict):
                    failures.append(image)
                elif image.status_at(now) != ACTIVE:
                    failures.append(failure(image_id, "ImageInaccessible", "The image is archived"))
                elif image.media_type not in media_types:
                    # ⚠ what ECR answers for an unaccepted media type is undocumented; a registry says 404.
                    failures.append(failure(image_id, "ImageNotFound", "Requested image not found"))
                else:
                    self._record_pull(image, now)
                    found.append((image, image_id))
            return found, failures

    def _record_pull(self, image: StoredImage, now: float) -> None:
        last = image.last_pulled_at
        if last is None or now - last >= self.knobs.pull_time_refresh_seconds:
            image.last_pulled_at = now

    def delete(self, name: str, image_ids: Sequence[ImageId]) -> tuple[list[dict[str, str]], list[Failure]]:
        """BatchDeleteImage: removed imageIds and per-item failures (rules in `deletion`)."""
        with self.lock:
            return deletion.delete(self.get(name), image_ids, self.knobs, self.find)

    def set_storage_class(self, name: str, image_id: ImageId, target: str) -> StoredImage:
        """UpdateImageStorageClass: ARCHIVE → ARCHIVED; STANDARD on an archived image → ACTIVATING."""
        with self.lock:
            repo = self.get(name)
            image = self.find(repo, image_id)
            if isinstance(image, dict):
                raise exceptions.image_not_found(image_id, name, self.account)
            now = self.clock.now()
            status = image.status_at(now)
            if target == "ARCHIVE" and status == ACTIVE:
                image.status, image.archived_at = ARCHIVED, now
            elif target == "STANDARD" and status == ARCHIVED:
                image.status, image.activating_until = ACTIVATING, now + self.knobs.activation_seconds
            elif target == "ARCHIVE" and status == ACTIVATING:
                raise exceptions.ApiError(
                    "ImageStorageClassUpdateNotSupportedException", "The image is being restored from archive"
                )
            return image

    # --- seeding: the same rules as PutImage, with the past as the push time ---------------------------

    def push_image(
        self,
        name: str,
        *,
        tags: Sequence[str] = (),
        pushed_at: Moment = None,
        last_pulled_at: Moment = None,
        platforms: Sequence[str] = (),
        layer_sizes: Sequence[int] = (2_000_000, 30_000_000),
        salt: str = "",
    ) -> str:
        """Push an image (an OCI index over one child per "os/arch" in `platforms`, if any); its digest.

        The repository is created if missing. Children are pushed untagged, at the same time, and share
        the index's last pull. `salt` distinguishes otherwise identical images.
        """
        with self.lock:
            self.create_repository(name, exist_ok=True)
            salt = salt or f"{name}|{','.join(tags)}|{self._at(pushed_at)}"
            if not platforms:
                text = manifests.image(salt, layer_sizes)
                return self._seed(name, text, tags, pushed_at, last_pulled_at).digest
            children = []
            for n, platform in enumerate(platforms):
                sizes = [size + n * 1_000 for size in layer_sizes]
                child = self._seed(
                    name, manifests.image(salt, sizes, platform=platform), (), pushed_at, last_pulled_at
                )
                children.append((child.digest, len(child.manifest.encode()), platform))
            return self._seed(name, manifests.index(children), tags, pushed_at, last_pulled_at).digest

    def push_referrer(
        self,
        name: str,
        subject: str,
        *,
        artifact_type: str = manifests.COSIGN_SIGNATURE,
        pushed_at: Moment = None,
    ) -> str:
        """Push an OCI 1.1 referrer (signature, SBOM …) of `subject`, untagged; its digest."""
        with self.lock:
            target = self.get(name).images.get(subject)
            media_type = target.media_type if target else manifests.OCI_MANIFEST
            length = len(target.manifest.encode()) if target else 0
            text = manifests.referrer(subject, media_type, length, artifact_type)
            return self._seed(name, text, (), pushed_at, None).digest

    def push_cosign_signature(self, name: str, subject: str, *, pushed_at: Moment = None) -> str:
        """Push a cosign tag-scheme signature of `subject`, tagged `sha256-<hex>.sig`; its digest."""
        with self.lock:
            text = manifests.cosign_signature(subject)
            return self._seed(name, text, (manifests.cosign_tag(subject),), pushed_at, None).digest

    def archive(self, name: str, digest: str, *, at: Moment = None) -> None:
        """Put an image in the ARCHIVED state as of `at` (seeding; the API goes through set_storage_class)."""
        with self.lock:
            image = self.get(name).images[digest]
            image.status, image.archived_at = ARCHIVED, self._at(at)

    def _seed(
        self, name: str, text: str, tags: Sequence[str], pushed_at: Moment, last_pulled_at: Moment
    ) -> StoredImage:
        image = self.store(name, text, manifests.parse(text), tags=tags, pushed_at=pushed_at)
        if last_pulled_at is not None:
            image.last_pulled_at = self._at(last_pulled_at)
        return image
