"""`ecrgc sandbox`: a local ECR endpoint, seeded, with the knobs set from flags, served until interrupted."""

from __future__ import annotations

import shlex
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ecrgc.errors import UsageError
from ecrgc.sandbox import Sandbox, seed, synth
from ecrgc.sandbox.api import OPERATIONS
from ecrgc.sandbox.knobs import Knobs, SameCallChildren, SubjectDelete


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxOptions:
    """Everything `ecrgc sandbox` can be told, as plain values."""

    account: str = "123456789012"
    region: str = "ap-northeast-1"
    host: str = "127.0.0.1"
    port: int = 0
    seeds: tuple[Path, ...] = ()
    synthetic: str | None = None
    """`N_REPOS:N_IMAGES`."""
    latency_ms: float = 0.0
    throttles: tuple[str, ...] = ()
    """`OPERATION=RATE` (calls per second; `*` for every operation)."""
    error_rate: float = 0.0
    drop_rate: float = 0.0
    fault_seed: int = 0
    activation_seconds: float = 20 * 60.0
    pull_time_refresh_seconds: float = 0.0
    subject_delete: str = SubjectDelete.ORPHAN.value
    same_call_children: str = SameCallChildren.REJECT.value


@dataclass(frozen=True, slots=True)
class SandboxSummary:
    """What the sandbox served, for the closing line."""

    repositories: int
    images: int
    calls: int


def parse_synthetic(text: str) -> synth.SynthSpec:
    """`2000:1000000` → a SynthSpec with that many repositories and images."""
    repos, sep, images = text.partition(":")
    if not sep or not repos.isdigit() or not images.isdigit() or int(repos) < 1:
        raise UsageError(f"--synthetic {text!r}: expected N_REPOS:N_IMAGES, e.g. 2000:1000000")
    return synth.SynthSpec(repositories=int(repos), images=int(images))


def parse_throttles(items: Sequence[str]) -> dict[str, float]:
    """`["DescribeImages=20", "*=100"]` → {operation: calls per second}."""
    rates: dict[str, float] = {}
    for item in items:
        operation, sep, rate = item.partition("=")
        if not sep or (operation != "*" and operation not in OPERATIONS):
            known = ", ".join(("*", *OPERATIONS))
            raise UsageError(f"--throttle {item!r}: expected OPERATION=RATE, OPERATION one of {known}")
        try:
            rates[operation] = float(rate)
        except ValueError:
            raise UsageError(f"--throttle {item!r}: RATE must be a number of calls per second") from None
    return rates


def build_knobs(options: SandboxOptions) -> Knobs:
    """The knobs the options ask for; UsageError naming the flag on a bad value."""
    try:
        knobs = Knobs(
            latency_ms=options.latency_ms,
            error_rate=options.error_rate,
            drop_rate=options.drop_rate,
            seed=options.fault_seed,
            activation_seconds=options.activation_seconds,
            pull_time_refresh_seconds=options.pull_time_refresh_seconds,
            subject_delete=SubjectDelete(options.subject_delete),
            same_call_children=SameCallChildren(options.same_call_children),
        )
    except ValueError as exc:
        raise UsageError(f"--subject-delete / --same-call-children: {exc}") from None
    for operation, rate in parse_throttles(options.throttles).items():
        knobs.throttle(operation, rate)
    return knobs


def build_sandbox(options: SandboxOptions) -> Sandbox:
    """A seeded, not yet started sandbox."""
    sandbox = Sandbox(
        options.account, options.region, host=options.host, port=options.port, knobs=build_knobs(options)
    )
    spec = parse_synthetic(options.synthetic) if options.synthetic else None
    for path in options.seeds:
        seed.load_into(sandbox, path)
    if spec is not None:
        synth.generate(sandbox.registry, spec)
    return sandbox


def export_lines(environ: Mapping[str, str]) -> str:
    """`export NAME=value` lines a shell can eval."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in environ.items())


@contextmanager
def _stopping_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT (Ctrl-C) and SIGTERM set `stop`. Installed explicitly: a process started with SIGINT ignored
    (as by a test runner's worker) would otherwise never see Ctrl-C as KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread; `stop` is set by the caller
        return
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_sandbox(
    options: SandboxOptions,
    *,
    ready: Callable[[Sandbox], None],
    until: threading.Event | None = None,
) -> SandboxSummary:
    """Seed and start the sandbox, call `ready(sandbox)`, serve until `until` is set, SIGINT or SIGTERM."""
    sandbox = build_sandbox(options)
    stop = until or threading.Event()
    with sandbox, _stopping_on_signals(stop):
        ready(sandbox)
        while not stop.wait(0.5):
            pass
        registries = list(sandbox.registries.values())
        return SandboxSummary(
            repositories=sum(len(registry.repositories) for registry in registries),
            images=sum(len(r.images) for registry in registries for r in registry.repositories.values()),
            calls=sandbox.calls.total(),
        )
