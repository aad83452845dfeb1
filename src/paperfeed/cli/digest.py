"""`paperfeed digest preview|send`: look at a digest before it goes, and send the due ones."""

from __future__ import annotations

from pathlib import Path

import typer

from paperfeed.cli.common import command_group, console, open_app

digest_app = command_group(help="Email digests: preview and send.")


def _parse_now(value: str | None):
    """--now for the digest commands: an ISO 8601 moment (UTC unless it says), default now."""
    from datetime import UTC, datetime

    if not value:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@digest_app.command("preview")
def digest_preview(
    subscription: int = typer.Option(..., "--subscription", help="Subscription id."),
    out: Path | None = typer.Option(None, help="Write the whole email (.eml) here."),
    html: bool = typer.Option(False, "--html", help="Print the HTML part instead of the text."),
    now: str | None = typer.Option(None, help="Pretend it is this time (ISO 8601, UTC default)."),
) -> None:
    """Show the digest a subscription would get for its current period (sends nothing)."""
    from paperfeed.delivery import digest
    from paperfeed.delivery.mailer import message_bytes

    with open_app() as pf:
        try:
            msg = digest.preview(pf, subscription, now=_parse_now(now))
        except LookupError as exc:
            console.print(f"[red]error[/] {exc}")
            raise typer.Exit(2) from exc
    if out:
        out.write_bytes(message_bytes(msg))
        console.print(f"wrote {out}")
        return
    body = msg.get_body(("html",) if html else ("plain",))
    typer.echo(f"Subject: {msg['Subject']}\nTo: {msg['To']}\nMessage-ID: {msg['Message-ID']}\n")
    typer.echo(body.get_content() if body else "")


@digest_app.command("send")
def digest_send(
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what is due; send nothing."),
    now: str | None = typer.Option(None, help="Pretend it is this time (ISO 8601, UTC default)."),
) -> None:
    """Queue every due digest in the outbox, then send the outbox (crash-safe; rerun freely)."""
    from paperfeed.delivery import digest

    with open_app() as pf:
        report = digest.run(pf, now=_parse_now(now), dry_run=dry_run)
        q = report.queued
        if dry_run:
            for item in q.planned:
                typer.echo(
                    f"would queue #{item.sub.id} {item.sub.email} {item.period.key}: "
                    f"{len(item.papers)} papers"
                )
            typer.echo(f"due={q.due} groups={q.groups}")
            return
        s = report.sent
        for line in s.errors[:20]:
            console.print(f"[yellow]failed[/] {line}", highlight=False)
        typer.echo(
            f"due={q.due} queued={q.queued} empty={q.empty} sent={s.sent} "
            f"retried={s.retried} failed={s.failed} cancelled={s.cancelled} "
            f"uncertain={s.uncertain}"
        )
