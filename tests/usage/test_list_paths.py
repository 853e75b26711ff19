"""Image-list paths resolve relative to the policy file that names them, never the working directory.

A plan must read the same lists wherever it runs, and a path written for the working directory (the seed's
habit) must stop the plan, saying where it looked, instead of protecting nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecrgc.cli import app
from ecrgc.errors import SourceUnavailable
from ecrgc.policy import load_policies
from ecrgc.sandbox import Sandbox
from ecrgc.usage import collect

ECR = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com"
POLICY = """\
apiVersion: ecrgc/v1
kind: Policy
metadata: {{name: {name}}}
spec:
  region: ap-northeast-1
  repositories: {{include: ['^svc/']}}
  rules: {{keepLatest: 1}}
  protect:
    imageLists: {lists}
"""


def repository(root: Path, lists: str, *, name: str = "web") -> Path:
    """`root/policies/<name>.yaml` naming `lists`; its path."""
    (root / "policies").mkdir(parents=True, exist_ok=True)
    path = root / "policies" / f"{name}.yaml"
    path.write_text(POLICY.format(name=name, lists=lists), encoding="utf-8")
    return path


def write_list(path: Path, *references: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{ECR}/{r}\n" for r in references), encoding="utf-8")


def test_a_list_beside_the_policy_is_read_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repository(repo, "['lists/prd.txt']")
    write_list(repo / "policies" / "lists" / "prd.txt", "svc/api:v1")
    monkeypatch.chdir(repo)
    usage = collect(load_policies([Path("policies")]))
    assert [(str(u.ref), u.source) for u in usage.uses] == [(f"{ECR}/svc/api:v1", "policies/lists/prd.txt:1")]
    assert [i.name for i in usage.inputs] == ["policies/lists/prd.txt"]  # from the working directory

    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # the same policy, planned from another directory
    again = collect(load_policies([repo / "policies"]))
    assert [u.ref for u in again.uses] == [u.ref for u in usage.uses]
    assert [i.name for i in again.inputs] == [str(repo / "policies" / "lists" / "prd.txt")]


def test_a_path_written_for_the_working_directory_stops_the_plan_naming_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The seed's layout: IMG_LIST/ at the top, the policy in policies/ naming it as the seed did.
    repository(tmp_path, "['IMG_LIST/PRD_IMG_LIST.txt']")
    write_list(tmp_path / "IMG_LIST" / "PRD_IMG_LIST.txt", "svc/api:v1")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceUnavailable) as caught:
        collect(load_policies([Path("policies")]))
    assert str(caught.value) == (
        "policies/web.yaml::$.spec.protect.imageLists[0]: IMG_LIST/PRD_IMG_LIST.txt (resolved to"
        f" {tmp_path.resolve()}/policies/IMG_LIST/PRD_IMG_LIST.txt) does not exist (image-list paths are"
        " relative to the policy file): correct the path, create the list or remove it from"
        " protect.imageLists; IMG_LIST/PRD_IMG_LIST.txt is in the working directory: from the policy file"
        " that is '../IMG_LIST/PRD_IMG_LIST.txt'"
    )


def test_a_glob_written_for_the_working_directory_stops_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository(tmp_path, "['IMG_LIST/*_IMG_LIST.txt']")
    write_list(tmp_path / "IMG_LIST" / "PRD_IMG_LIST.txt", "svc/api:v1")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceUnavailable) as caught:
        collect(load_policies([Path("policies")]))
    assert str(caught.value) == (
        "policies/web.yaml::$.spec.protect.imageLists[0]: 'IMG_LIST/*_IMG_LIST.txt' matches no file under"
        f" {tmp_path.resolve()}/policies (image-list paths are relative to the policy file): create the list,"
        " correct the pattern or remove it from protect.imageLists; IMG_LIST/*_IMG_LIST.txt is in the"
        " working directory: from the policy file that is '../IMG_LIST/*_IMG_LIST.txt'"
    )


def test_the_fixed_path_reads_the_seeds_lists_and_names_them_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository(tmp_path, "['../IMG_LIST/*_IMG_LIST.txt']")
    write_list(tmp_path / "IMG_LIST" / "PRD_IMG_LIST.txt", "svc/api:v1")
    monkeypatch.chdir(tmp_path)
    usage = collect(load_policies([Path("policies")]))
    assert [i.name for i in usage.inputs] == ["IMG_LIST/PRD_IMG_LIST.txt"]  # `..` folded: no machine's path


def test_a_list_through_a_symlink_is_read_and_an_error_names_the_real_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository(tmp_path, "['lists/prd.txt']")
    write_list(tmp_path / "shared" / "prd.txt", "svc/api:v1")
    (tmp_path / "policies" / "lists").symlink_to(tmp_path / "shared")
    monkeypatch.chdir(tmp_path)
    usage = collect(load_policies([Path("policies")]))
    assert [u.source for u in usage.uses] == ["policies/lists/prd.txt:1"]  # the user's file: read

    (tmp_path / "shared" / "prd.txt").unlink()
    with pytest.raises(
        SourceUnavailable, match=rf"\(resolved to {tmp_path.resolve()}/shared/prd\.txt\) does not"
    ):
        collect(load_policies([Path("policies")]))


def test_one_list_named_by_two_policies_by_different_paths_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository(tmp_path, "['../IMG_LIST/prd.txt']", name="web")
    (tmp_path / "policies" / "team").mkdir()
    (tmp_path / "policies" / "team" / "api.yaml").write_text(
        POLICY.format(name="api", lists="['../../IMG_LIST/prd.txt']").replace("^svc/", "^api/"),
        encoding="utf-8",
    )
    write_list(tmp_path / "IMG_LIST" / "prd.txt", "svc/api:v1")
    monkeypatch.chdir(tmp_path)
    usage = collect(load_policies([Path("policies"), Path("policies/team")]))
    assert [i.name for i in usage.inputs] == ["IMG_LIST/prd.txt"]


def test_plan_stops_in_one_line_when_a_list_is_not_where_its_policy_says(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.registry.push_image("svc/api", tags=["v1"])
    repository(tmp_path, "['IMG_LIST/PRD_IMG_LIST.txt']")
    write_list(tmp_path / "IMG_LIST" / "PRD_IMG_LIST.txt", "svc/api:v1")
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, ["plan", "--out", "plan.json"])

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("ecrgc: policies/web.yaml::$.spec.protect.imageLists[0]: IMG_LIST/")
    assert f"(resolved to {tmp_path.resolve()}/policies/IMG_LIST/PRD_IMG_LIST.txt)" in result.stderr
    assert not (tmp_path / "plan.json").exists()
