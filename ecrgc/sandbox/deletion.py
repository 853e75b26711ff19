"""BatchDeleteImage's rules: by tag vs by digest, children still listed by an index, referrers of a subject.

Two of them are undocumented (⚠) and follow knobs: `Knobs.same_call_children` (an index and its children in
one call) and `Knobs.subject_delete` (what deleting a subject does to its referrers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ecrgc.sandbox.knobs import Knobs, SameCallChildren, SubjectDelete
from ecrgc.sandbox.repository import RepositoryState, StoredImage

ImageId = Mapping[str, str]
Failure = dict[str, object]
Finder = Callable[[RepositoryState, ImageId], "StoredImage | Failure"]


def failure(image_id: ImageId, code: str, reason: str) -> Failure:
    """One per-item failure of BatchGetImage / BatchDeleteImage."""
    return {"imageId": dict(image_id), "failureCode": code, "failureReason": reason}


def delete(
    repo: RepositoryState, image_ids: Sequence[ImageId], knobs: Knobs, find: Finder
) -> tuple[list[dict[str, str]], list[Failure]]:
    """Delete each imageId in turn; return the removed imageIds and the per-item failures."""
    ordered = list(image_ids)
    if knobs.same_call_children is SameCallChildren.INDEXES_FIRST:
        ordered.sort(key=lambda i: not _is_index(find(repo, i)))
    referenced_before: set[str] = set()
    if knobs.same_call_children is SameCallChildren.REJECT:
        found = (find(repo, i) for i in ordered)
        referenced_before = {
            i.digest for i in found if isinstance(i, StoredImage) and repo.indexes_of(i.digest)
        }
    deleted: list[dict[str, str]] = []
    failures: list[Failure] = []
    for image_id in ordered:
        image = find(repo, image_id)
        if isinstance(image, dict):
            failures.append(image)
            continue
        problem = _refusal(repo, image, image_id, knobs, referenced_before)
        if problem is not None:
            failures.append(problem)
        else:
            deleted.extend(_remove(repo, image, image_id.get("imageTag"), knobs))
    return deleted, failures


def _is_index(image: StoredImage | Failure) -> bool:
    return isinstance(image, StoredImage) and bool(image.children)


def _refusal(
    repo: RepositoryState, image: StoredImage, image_id: ImageId, knobs: Knobs, referenced_before: set[str]
) -> Failure | None:
    if image_id.get("imageTag") and len(image.tags) > 1:
        return None  # only a tag goes; the image stays
    if image.digest in referenced_before or repo.indexes_of(image.digest):
        return failure(
            image_id, "ImageReferencedByManifestList", "Requested image referenced by manifest list"
        )
    if knobs.subject_delete is SubjectDelete.BLOCK and repo.referrers_of(image.digest):
        return failure(image_id, "ImageReferencedByManifestList", "Requested image has referrers")
    return None


def _remove(repo: RepositoryState, image: StoredImage, tag: str | None, knobs: Knobs) -> list[dict[str, str]]:
    """By tag: that tag (and the image with its last tag). By digest: the image and all its tags."""
    if tag:
        if len(image.tags) > 1:
            repo.untag(image, tag)
            return [{"imageDigest": image.digest, "imageTag": tag}]
        removed = [{"imageDigest": image.digest, "imageTag": tag}]
    else:
        removed = [{"imageDigest": image.digest, "imageTag": t} for t in image.tags] or [
            {"imageDigest": image.digest}
        ]
    if knobs.subject_delete is SubjectDelete.CASCADE:
        _cascade(repo, image.digest)
    repo.remove(image)
    return removed


def _cascade(repo: RepositoryState, subject: str) -> None:
    for digest in list(repo.referrers_of(subject)):
        _cascade(repo, digest)
        repo.remove(repo.images[digest])
