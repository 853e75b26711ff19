"""Image-list files: reading the seed's format (fail closed), and the deterministic export."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrgc.errors import SourceUnavailable
from ecrgc.imagelists import format_image_list, read_entry, read_image_list, write_image_list
from ecrgc.model import THIS_REGISTRY, ImageRef, InputFingerprint, InputKind, Use
from tests import strategies as s

DATA = Path(__file__).parent / "data" / "imagelists"
PRD = "IMG_LIST/prd_IMG_LIST.txt"
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.fixture
def lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the data directory, so a test may break files in it (the working directory)."""
    shutil.copytree(DATA, tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def in_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in the data directory: lists are named by their path from the working directory."""
    monkeypatch.chdir(DATA)


def test_read_image_list_keeps_every_reference_with_its_line() -> None:
    path = DATA / PRD
    usage = read_image_list(path)
    assert [(str(use.ref), use.source) for use in usage.uses] == [
        (f"{ECR}/payments/api:v1.4.2", f"{path}:2"),
        (f"{ECR}/payments/api@sha256:{'1' * 64}", f"{path}:3"),
        (f"123456789012.dkr-ecr.eu-west-1.on.aws/payments/worker:v2@sha256:{'2' * 64}", f"{path}:5"),
        ("nginx:1.25", f"{path}:6"),
        ("ghcr.io/org/tool:latest", f"{path}:7"),
        (
            "ghcr.io/org/tool:latest",
            f"{path}:7",
        ),  # read two ways: `ghcr.io/org/tool` could be a repository here
        ("docker.io/library/redis:7", f"{path}:8"),
        ("payments/web:dev-3", f"{path}:9"),  # the seed's list_img.sh writes this (cut -d'/' -f2-)
    ]
    assert [use.ref.host for use in usage.uses[-5:]] == [
        THIS_REGISTRY,
        "ghcr.io",
        THIS_REGISTRY,
        "docker.io",
        THIS_REGISTRY,
    ]
    assert usage.inputs == (
        InputFingerprint(
            kind=InputKind.IMAGE_LIST,
            name=str(path),
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            references=7,
        ),
    )


@pytest.mark.usefixtures("in_data")
def test_read_entry_expands_globs_in_sorted_order_named_from_the_working_directory() -> None:
    usage = read_entry("IMG_LIST/*_IMG_LIST.txt", DATA)
    assert [fp.name for fp in usage.inputs] == [PRD, "IMG_LIST/stg_IMG_LIST.txt"]
    assert [use.source for use in usage.uses][-2:] == [
        "IMG_LIST/stg_IMG_LIST.txt:2",
        "IMG_LIST/stg_IMG_LIST.txt:4",
    ]
    assert usage.uses[-1].ref.account == "210987654321"  # CRLF line ends and a foreign account both parse


def test_read_entry_reads_plain_and_absolute_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # DATA lies outside the working directory: named by its absolute path
    assert [fp.name for fp in read_entry(PRD, DATA).inputs] == [str(DATA / PRD)]
    absolute = read_entry(str(DATA / "IMG_LIST" / "stg*.txt"), tmp_path)
    assert [fp.name for fp in absolute.inputs] == [str(DATA / "IMG_LIST" / "stg_IMG_LIST.txt")]


@pytest.mark.usefixtures("in_data")
def test_a_path_through_dot_dot_is_read_and_named_with_the_dots_folded() -> None:
    usage = read_entry("../IMG_LIST/stg_IMG_LIST.txt", DATA / "IMG_LIST")
    assert [fp.name for fp in usage.inputs] == ["IMG_LIST/stg_IMG_LIST.txt"]


def test_a_byte_order_mark_is_not_part_of_the_first_reference(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfghcr.io/org/app:1\n")
    assert str(read_image_list(path).uses[0].ref) == "ghcr.io/org/app:1"


def test_an_empty_list_reads_as_no_references(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("# nothing runs here\n\n")
    usage = read_image_list(path)
    assert usage.uses == ()
    assert usage.inputs[0].references == 0


@pytest.mark.parametrize("text", ["", "# nothing runs here\n\n"])
def test_a_configured_list_without_a_reference_stops_unless_allowed(tmp_path: Path, text: str) -> None:
    # An empty list is a lost export far more often than a registry with nothing in use.
    (tmp_path / "IMG_LIST").mkdir()
    (tmp_path / "IMG_LIST" / "PRE_IMG_LIST.txt").write_text(text)
    with pytest.raises(SourceUnavailable) as caught:
        read_entry("IMG_LIST/*_IMG_LIST.txt", tmp_path, where="p.yaml::$.spec.protect.imageLists[0]")
    assert str(caught.value) == (
        "p.yaml::$.spec.protect.imageLists[0]: IMG_LIST/*_IMG_LIST.txt: "
        f"{tmp_path}/IMG_LIST/PRE_IMG_LIST.txt (resolved to {tmp_path.resolve()}/IMG_LIST/PRE_IMG_LIST.txt)"
        " holds no reference, so it would protect nothing: restore its references, or write"
        " {path: 'IMG_LIST/*_IMG_LIST.txt', allowEmpty: true} in protect.imageLists if nothing in use is"
        " right"
    )
    assert read_entry("IMG_LIST/*_IMG_LIST.txt", tmp_path, allow_empty=True).uses == ()


def test_a_missing_list_stops_naming_the_path_it_resolved_to(lists: Path) -> None:
    with pytest.raises(SourceUnavailable) as caught:
        read_entry("IMG_LIST/dev_IMG_LIST.txt", lists)
    assert str(caught.value) == (
        f"image list IMG_LIST/dev_IMG_LIST.txt (resolved to {lists.resolve()}/IMG_LIST/dev_IMG_LIST.txt)"
        " does not exist (image-list paths are relative to the policy file): correct the path, create the"
        " list or remove it from protect.imageLists"
    )


def test_an_unreadable_list_stops(lists: Path) -> None:
    (lists / PRD).unlink()
    (lists / PRD).mkdir()  # unreadable as a file for every user, root included
    with pytest.raises(SourceUnavailable, match=r"cannot be read \(is a directory\): restore it"):
        read_entry(PRD, lists)


def test_a_list_that_is_not_text_stops(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SourceUnavailable, match=r"cannot be read \(not utf-8 text\)"):
        read_image_list(tmp_path / "x.txt")


def test_a_glob_that_matches_nothing_stops(lists: Path) -> None:
    with pytest.raises(SourceUnavailable) as caught:
        read_entry("IMG_LIST/*_LIST.json", lists / "IMG_LIST", where="p.yaml::$.spec.protect.imageLists[1]")
    assert str(caught.value) == (
        f"p.yaml::$.spec.protect.imageLists[1]: 'IMG_LIST/*_LIST.json' matches no file under"
        f" {lists.resolve()}/IMG_LIST (image-list paths are relative to the policy file): create the list,"
        " correct the pattern or remove it from protect.imageLists"
    )


def test_a_line_that_does_not_parse_stops_naming_file_and_line() -> None:
    with pytest.raises(
        SourceUnavailable, match=r"bad_line.txt:2: image reference 'ghcr.io/Org/Bad:1': .*: fix or"
    ):
        read_image_list(DATA / "bad_line.txt")


@pytest.mark.usefixtures("in_data")
def test_format_image_list_golden() -> None:
    uses = list(read_entry("IMG_LIST/*_IMG_LIST.txt", DATA).uses)
    uses += [Use(ref=uses[0].ref, source="prd · payments · Deployment/api")]
    random.Random(7).shuffle(uses)
    text = format_image_list(uses)
    golden = DATA / "export.golden.txt"
    if os.environ.get("ECRGC_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_this_registrys_references_are_written_as_the_seed_writes_them(tmp_path: Path) -> None:
    # list_img.sh (`cut -d'/' -f2-`) and k8s.FetchInUseImages (util.TrimRegistry) drop the host.
    usage = read_image_list(DATA / PRD)
    out = tmp_path / "PRD_IMG_LIST.txt"
    write_image_list(usage.uses, out, registry=("123456789012", "eu-west-1"))
    lines = [line for line in out.read_text().splitlines() if not line.startswith("#")]
    assert lines == [
        "docker.io/library/redis:7",
        "ghcr.io/org/tool:latest",
        "nginx:1.25",
        "payments/api:v1.4.2",
        f"payments/api@sha256:{'1' * 64}",
        "payments/web:dev-3",
        f"payments/worker:v2@sha256:{'2' * 64}",
    ]
    assert {use.ref.repository for use in read_image_list(out).uses if use.ref.host == THIS_REGISTRY} == {
        "ghcr.io/org/tool",
        "nginx",
        "payments/api",
        "payments/web",
        "payments/worker",
    }


def test_write_image_list_round_trips(tmp_path: Path) -> None:
    usage = read_entry("IMG_LIST/*_IMG_LIST.txt", DATA)
    out = tmp_path / "export.txt"
    write_image_list(usage.uses, out)
    assert {use.ref for use in read_image_list(out).uses} == {use.ref for use in usage.uses}


_uses = st.lists(
    st.builds(
        lambda host, repo, tag, digest, source: Use(
            ref=ImageRef(host=host, repository=repo, tag=tag, digest=digest), source=source
        ),
        st.one_of(s.ecr_hosts().map(str.lower), s.other_hosts.filter(lambda h: h != "docker.io")),
        s.repository_names,
        st.none() | s.tags,
        st.none() | s.digests,
        st.sampled_from(["IMG_LIST/a.txt:1", "prd · default · Pod/x", "b"]),
    ),
    max_size=12,
)


@given(uses=_uses, seed=st.integers())
def test_export_is_deterministic_and_reads_back(uses: list[Use], seed: int) -> None:
    text = format_image_list(uses)
    shuffled = list(uses)
    random.Random(seed).shuffle(shuffled)
    assert format_image_list(shuffled) == text
    # (the uses generated all name a host; a line read a second way, as this registry's, is left out)
    refs = [str(use.ref) for use in read_image_list_text(text) if use.ref.host != THIS_REGISTRY]
    assert refs == sorted({str(use.ref) for use in uses})


def read_image_list_text(text: str) -> tuple[Use, ...]:
    """Parse an export through the real reader (a temporary file per call keeps hypothesis examples apart)."""
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "list.txt"
        path.write_text(text, encoding="utf-8")
        return read_image_list(path).uses
