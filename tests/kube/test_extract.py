"""ecrgc.kubeobjects (the pure half of ecrgc.kube): which fields of an object name images, no apiserver."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrgc import kubeobjects

IMAGE = st.from_regex(r"\A[a-z]{1,8}/[a-z]{1,8}:v[0-9]{1,3}\Z")
KEYS = st.sampled_from(["spec", "template", "containers", "name", "volumes", "reference", "env", "data"])
JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))


@st.composite
def with_images(draw: st.DrawFn) -> tuple[Any, list[str]]:
    """Random JSON with `image` keys planted anywhere: as a string, or as an image volume's {reference}."""
    planted: list[str] = []

    def grow(depth: int) -> Any:
        if depth == 0 or draw(st.integers(0, 3)) == 0:
            return draw(JSON_LEAVES)
        if draw(st.booleans()):
            return [grow(depth - 1) for _ in range(draw(st.integers(0, 3)))]
        node = {key: grow(depth - 1) for key in draw(st.lists(KEYS, max_size=3, unique=True))}
        if draw(st.booleans()):
            image = draw(IMAGE)
            planted.append(image)
            node["image"] = {"reference": image, "pullPolicy": "Always"} if draw(st.booleans()) else image
        return node

    return grow(4), planted


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # two shared cores: timing is noise
@given(with_images())
def test_walk_finds_every_planted_image_and_nothing_else(case: tuple[Any, list[str]]) -> None:
    data, planted = case
    found = list(kubeobjects.walk_images(data))
    assert Counter(text for text, _ in found) == Counter(planted)
    assert not any(is_id for _, is_id in found)


def test_pod_spec_and_status_fields() -> None:
    spec = {
        "containers": [{"name": "a", "image": "a:1"}, {"name": "no-image"}],
        "initContainers": [{"name": "i", "image": "i:1"}],
        "ephemeralContainers": [{"name": "e", "image": "e:1"}],
        "volumes": [
            {"name": "cfg", "configMap": {"name": "x"}},
            {"name": "m", "image": {"reference": "m:1"}},
        ],
    }
    status = {
        "containerStatuses": [
            {
                "imageID": "a@sha256:1",
                "volumeMounts": [
                    {"name": "m", "volumeStatus": {"image": {"imageRef": "m@sha256:2"}}},
                    {"name": "cfg"},
                ],
            }
        ],
        "initContainerStatuses": [{"imageID": "i@sha256:3"}],
        "ephemeralContainerStatuses": [{}],
    }
    assert list(kubeobjects.pod_spec_images(spec)) == [
        ("a:1", False),
        ("", False),
        ("i:1", False),
        ("e:1", False),
        ("", False),
        ("m:1", False),
    ]
    assert list(kubeobjects.pod_status_images(status)) == [
        ("a@sha256:1", True),
        ("m@sha256:2", True),
        ("", True),
        ("i@sha256:3", True),
        ("", True),
    ]
    assert (
        list(kubeobjects.pod_spec_images(None)) == list(kubeobjects.pod_status_images("not a mapping")) == []
    )


def test_every_resource_reads_its_pod_spec() -> None:
    """Each kind finds a template image placed where the Kubernetes API puts that kind's PodSpec."""
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "x/y:1"}]}
    where: dict[str, dict[str, Any]] = {
        "pods": {"spec": spec},
        "podtemplates": {"template": {"spec": spec}},
        "cronjobs": {"spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}},
        "controllerrevisions": {"data": {"spec": {"template": {"spec": spec}}}},
        "revisions": {"spec": spec},
        "scaledjobs": {"spec": {"jobTargetRef": {"template": {"spec": spec}}}},
    }
    for resource in (*kubeobjects.BUILTIN, *kubeobjects.CUSTOM):
        obj = {
            "metadata": {"namespace": "ns", "name": "n"},
            **where.get(resource.plural, {"spec": {"template": {"spec": spec}}}),
        }
        uses = list(kubeobjects.uses_of(obj, resource, cluster="prd"))
        assert [(str(u.ref), u.source) for u in uses] == [
            ("docker.io/x/y:1", f"prd · ns · {resource.kind}/n")
        ], resource
