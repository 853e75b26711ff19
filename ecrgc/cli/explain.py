"""`ecrgc explain PLAN REF` and `ecrgc show PLAN --images`: why each image is kept, deleted or archived."""

from itertools import islice
from pathlib import Path
from typing import Annotated, assert_never

import typer

from ecrgc.cli.shared import Format, echo_view


def explain(
    path: Annotated[Path, typer.Argument(help="A plan file (.json or .json.gz).")],
    reference: Annotated[
        str,
        typer.Argument(
            help="The image: REPO:TAG, REPO@DIGEST or DIGEST (sha256:, at least 12 hex digits; a bare digest"
            " may name an image in several repositories: each is shown)."
        ),
    ],
    output: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.TEXT,
) -> None:
    """Say why the plan keeps, deletes or archives an image: the rule, its evidence, the policy."""
    from ecrgc.commands.explain import run_explain
    from ecrgc.render.images import explain_json, explain_text

    _text_or_json(output)
    plan, decided = run_explain(path, reference)
    text = (
        explain_json(plan, str(path), reference, decided) if output is Format.JSON else explain_text(decided)
    )
    echo_view(text, output)


def show_images(path: Path, output: Format) -> None:
    """`show PLAN --images`: every image of the plan, one line each (or JSON), with its action and why."""
    from ecrgc.commands.explain import run_images
    from ecrgc.render.images import images_json, images_text

    _text_or_json(output)
    plan, decided = run_images(path)
    pieces = images_json(plan, str(path), decided) if output is Format.JSON else images_text(decided)
    # Printed as they come, in batches (each print of a text view on a terminal sets up its colouring).
    while batch := "".join(islice(pieces, _BATCH)):
        echo_view(batch, output)


_BATCH = 10_000  # images printed at a time


def _text_or_json(output: Format) -> None:
    """These views have no Markdown: the PR comment is the plan's Markdown view."""
    from ecrgc.errors import UsageError

    match output:
        case Format.TEXT | Format.JSON:
            return
        case Format.MARKDOWN:
            raise UsageError("--format markdown: this view is text or json (the PR comment: ecrgc show PLAN)")
        case _:
            assert_never(output)
