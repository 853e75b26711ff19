"""`ecrgc inuse …`: the images a cluster uses, exported for a planner elsewhere."""

import logging
from pathlib import Path
from typing import Annotated

import typer

log = logging.getLogger("ecrgc")

inuse_app = typer.Typer(
    no_args_is_help=True, help="Images in use: export a cluster's for a planner elsewhere."
)


@inuse_app.command("export")
def _inuse_export(
    contexts: Annotated[
        list[str] | None,
        typer.Option(
            "--context", help="A kubeconfig context to read (repeatable). Default: the current one."
        ),
    ] = None,
    in_cluster: Annotated[
        bool, typer.Option("--in-cluster", help="Read the cluster this pod runs in, as its service account.")
    ] = False,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Accept a cluster that has no pods at all.")
    ] = False,
    kubeconfig: Annotated[str | None, typer.Option("--kubeconfig", envvar="ECRGC_KUBECONFIG")] = None,
    aws: Annotated[
        list[Path] | None,
        typer.Option(
            "--aws",
            metavar="POLICIES",
            help="Also export the AWS-native workloads (protect.aws) these policy files or directories name;"
            " alone, only those.",
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out", help="Write the list here (a path or s3://BUCKET/KEY, atomically), not to stdout."
        ),
    ] = None,
) -> None:
    """Write every image the clusters (and with --aws, ECS, Lambda, Batch and App Runner) use in the seed's
    IMG_LIST format (one reference per line, digests included, who uses it as comments); list the file under
    protect.imageLists."""
    from ecrgc.commands import inuse as inuse_command
    from ecrgc.policy import load_policies

    policies = load_policies(aws) if aws else ()
    chosen = inuse_command.contexts_for(
        contexts or [], in_cluster=in_cluster, allow_empty=allow_empty, aws=bool(aws)
    )
    text = inuse_command.run_export(chosen, kubeconfig=kubeconfig, policies=policies)
    if out is None:
        typer.echo(text, nl=False)
    else:
        inuse_command.save(text, out)
        log.info("wrote %s", out)
