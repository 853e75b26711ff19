"""`ecrgc sandbox` (a local ECR endpoint) and `ecrgc demo` (plan and apply against it)."""

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ecrgc.sandbox import Sandbox


def sandbox(
    *,
    seed: Annotated[
        list[Path] | None,
        typer.Option(
            "--seed", help="A YAML registry description (it may name its account, region); repeatable."
        ),
    ] = None,
    synthetic: Annotated[
        str | None, typer.Option("--synthetic", help="N_REPOS:N_IMAGES of synthetic images (fixed seed).")
    ] = None,
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: a free one).")] = 0,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    account: Annotated[str, typer.Option("--account", help="The account id it answers as.")] = "123456789012",
    region: Annotated[str, typer.Option("--region", help="The region it answers as.")] = "ap-northeast-1",
    latency: Annotated[float, typer.Option("--latency", help="Milliseconds added to every call.")] = 0.0,
    throttle: Annotated[
        list[str] | None,
        typer.Option("--throttle", help="OP=RATE calls per second (OP may be *); repeatable."),
    ] = None,
    error_rate: Annotated[float, typer.Option("--error-rate", help="Share of calls answered 500.")] = 0.0,
    drop_rate: Annotated[float, typer.Option("--drop-rate", help="Share of connections dropped.")] = 0.0,
    fault_seed: Annotated[int, typer.Option("--fault-seed", help="Seed of the fault injection.")] = 0,
    activation_seconds: Annotated[
        float, typer.Option("--activation-seconds", help="How long a restore from archive takes.")
    ] = 1200.0,
    pull_time_refresh: Annotated[
        float, typer.Option("--pull-time-refresh", help="Seconds between lastRecordedPullTime updates.")
    ] = 0.0,
    subject_delete: Annotated[
        str, typer.Option("--subject-delete", help="Deleting a subject: orphan|cascade|block its referrers.")
    ] = "orphan",
    same_call_children: Annotated[
        str,
        typer.Option(
            "--same-call-children", help="Index + children in one call: reject|in_order|indexes_first."
        ),
    ] = "reject",
) -> None:
    """Serve a local ECR (and STS) endpoint until interrupted; prints the variables to export."""
    from ecrgc.commands import sandbox as sandbox_command

    options = sandbox_command.SandboxOptions(
        account=account,
        region=region,
        host=host,
        port=port,
        seeds=tuple(seed or ()),
        synthetic=synthetic,
        latency_ms=latency,
        throttles=tuple(throttle or ()),
        error_rate=error_rate,
        drop_rate=drop_rate,
        fault_seed=fault_seed,
        activation_seconds=activation_seconds,
        pull_time_refresh_seconds=pull_time_refresh,
        subject_delete=subject_delete,
        same_call_children=same_call_children,
    )

    def ready(served: "Sandbox") -> None:
        typer.echo(sandbox_command.export_lines(served.environ()), nl=False)
        typer.echo(f"ecrgc: ECR sandbox on {served.endpoint_url}; Ctrl-C to stop", err=True)

    summary = sandbox_command.run_sandbox(options, ready=ready)
    typer.echo(f"ecrgc: served {summary.calls} calls; {summary.images} images left", err=True)


def demo(
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--workdir", help="Keep the demo's policy, image list and plan here (default: a new temp dir)."
        ),
    ] = None,
) -> None:
    """Plan and apply against an embedded sample registry: no AWS account, no network."""
    from ecrgc import render
    from ecrgc.cli.console import text_width
    from ecrgc.cli.shared import Format, echo_view
    from ecrgc.commands import demo as demo_command

    # The directory stays: the plan file is where the output says it is, for `ecrgc show` afterwards.
    where = workdir or Path(tempfile.mkdtemp(prefix="ecrgc-demo-"))
    typer.echo("ecrgc: starting the sandbox with the sample registry …", err=True)
    result = demo_command.run_demo(where, now=datetime.now(UTC))
    scanned = sum(s.scanned for s in result.plan.summary)
    typer.echo(
        f"== plan: the policy scanned {scanned} of the registry's {result.images_before} images;"
        f" the plan file is {result.plan_path}\n"
    )
    echo_view(render.plan_text(result.plan, width=text_width(sys.stdout)), Format.TEXT)
    typer.echo(f"\n== kept because they run (a few of {len(result.plan.protected)}):")
    for kept in result.plan.protected[:DEMO_KEPT_SHOWN]:
        name = f"{kept.repository}:{','.join(kept.tags)}" if kept.tags else kept.repository
        typer.echo(f"   {name:<32} in use: {', '.join(kept.sources)}")
    typer.echo("\n== apply: every planned image re-verified against the live registry, then deleted\n")
    echo_view(render.report_text(result.report, width=text_width(sys.stdout)), Format.TEXT)
    after = sum(result.images_after.values())
    typer.echo(f"\n== the registry now holds {after} of its {result.images_before} images:")
    for name, count in result.images_after.items():
        typer.echo(f"   {name:<24} {count:>5}")
    typer.echo(f"\nThe demo's files are in {where}: `ecrgc show {result.plan_path}` renders the plan again.")


DEMO_KEPT_SHOWN = 5
