"""`controlroom`: demo, serve, worker, migrate, user add, event create, report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import secrets
import sys
import webbrowser
from typing import Any

from app.config import ROOT, Settings, load_settings
from app.runtime import quiet_gc


def migrate(settings: Settings, revision: str = "head") -> None:
    """Brings the database schema to `revision` with Alembic."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", settings.database_url)
    if revision.startswith("-") or revision == "base":
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)


def _run_server(settings: Settings, app: Any) -> None:
    import uvicorn

    quiet_gc()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        ws="websockets-sansio",
        ws_per_message_deflate=settings.ws_compression,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
    )


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    overrides: dict[str, Any] = dict(extra)
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    return load_settings(**overrides)


def cmd_serve(args: argparse.Namespace) -> None:
    from app.main import create_app

    settings = _settings(args)
    if not settings.secret_key:
        print(
            "warning: CONTROLROOM_SECRET_KEY is unset; sessions will not survive a restart "
            "or work across several serve processes",
            file=sys.stderr,
        )
    _run_server(settings, create_app(settings))


def cmd_worker(args: argparse.Namespace) -> None:
    from app.bus import make_bus
    from app.db import Database
    from app.worker import run_worker

    settings = _settings(args)
    # The pipeline is throughput work in 25 ms batches; a moderator's click and the
    # fan-out to consoles are latency work. On a shared machine, the latter go first
    # (measured: triage action -> consoles p99 242 -> 101 ms under the Live-10 load).
    os.nice(settings.worker_nice)
    quiet_gc()

    async def main() -> None:
        db, bus = Database(settings.database_url), make_bus(settings)
        try:
            await run_worker(settings, db, bus)
        finally:
            await bus.close()
            await db.dispose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


def cmd_migrate(args: argparse.Namespace) -> None:
    settings = _settings(args)
    migrate(settings, args.revision)
    print(f"database at {args.revision}: {settings.database_url}")


def cmd_user_add(args: argparse.Namespace) -> None:
    from app.auth import service as auth
    from app.auth.models import Role
    from app.db import Database

    settings = _settings(args)
    password = args.password or getpass.getpass(f"password for {args.username}: ")

    async def main() -> None:
        db = Database(settings.database_url)
        async with db.sessions() as session:
            user = await auth.create_user(session, args.username, password, Role(args.role))
            token = await auth.create_api_token(session, user, "cli") if args.token else None
            await session.commit()
        await db.dispose()
        print(f"user {args.username} ({args.role}) created")
        if token:
            print(f"API token (shown once): {token}")

    asyncio.run(main())


def cmd_event_create(args: argparse.Namespace) -> None:
    from app.db import Database
    from app.events import service as events

    settings = _settings(args)

    async def main() -> None:
        db = Database(settings.database_url)
        async with db.sessions() as session:
            event = await events.create_event(session, args.slug, args.title)
            if args.simulate:
                for platform in ("twitch", "youtube", "zoom"):
                    session.add(_simulated_source(event.id, platform, args.scenario))
            await session.commit()
        await db.dispose()
        print(f"event {args.slug} created: {event.id}" + (" (simulated)" if args.simulate else ""))

    asyncio.run(main())


def cmd_report(args: argparse.Namespace) -> None:
    from app.db import Database
    from app.events import repository as events_repo
    from app.events.models import Event
    from app.reports import comparison, figures, render

    settings = _settings(args)
    renderer = render.RENDERERS[args.format]

    async def find(session: Any, key: str) -> Any:
        found = await session.get(Event, key) or await events_repo.event_by_slug(session, key)
        if found is None:
            raise SystemExit(f"no event with id or slug {key!r}: see GET /api/events")
        return found

    async def main() -> bytes:
        db = Database(settings.database_url)
        try:
            async with db.sessions() as session:
                event = await find(session, args.event)
                found = await figures.build(session, event.id)
                compared = None
                if args.compare is not None:
                    if args.compare == "series":
                        other = await comparison.previous_in_series(session, event)
                        if other is None:
                            raise SystemExit(
                                f"no earlier event in the series of {event.slug!r}: "
                                "name one with --compare EVENT"
                            )
                    else:
                        other = await find(session, args.compare)
                    basis = "series" if args.compare == "series" else "explicit"
                    theirs = await figures.build(session, other.id)
                    compared = comparison.compare(found, theirs, basis=basis)
        finally:
            await db.dispose()
        options = render.RenderOptions(series=args.series, comparison=compared)
        try:
            return renderer.render(found, options)
        except render.UnknownSeries as exc:
            raise SystemExit(str(exc)) from None

    body = asyncio.run(main())
    if args.out:
        with open(args.out, "wb") as out:
            out.write(body)
        print(f"report written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()


def _simulated_source(event_id: str, platform: str, scenario: str, **options: float) -> Any:
    from app.events.models import Source

    return Source(
        event_id=event_id,
        platform="simulator",
        name=f"{platform} (simulated)",
        config={"plays": platform, "scenario": scenario, "loop": True, **options},
    )


async def prepare_demo(settings: Settings) -> tuple[str, str, str]:
    """Creates the demo admin and the simulated event if missing; returns a login link."""
    from sqlalchemy import select

    from app.auth import service as auth
    from app.auth.models import Role, User
    from app.db import Database
    from app.events import repository, service
    from app.moderation import store as moderation

    db = Database(settings.database_url)
    password = secrets.token_urlsafe(9)
    async with db.sessions() as session:
        user = await session.scalar(select(User).where(User.username == "demo"))
        if user is None:
            user = await auth.create_user(session, "demo", password, Role.admin, "Demo Admin")
        else:
            user.password_hash = auth.hash_password(password)
        event = await repository.event_by_slug(session, "demo-webinar")
        if event is None:
            event = await service.create_event(session, "demo-webinar", "Demo webinar: Launch Day")
            # Three times the scenario's pace and five times its chat, so that a first look
            # sees questions and gauges move within seconds.
            for platform in ("twitch", "youtube", "zoom"):
                session.add(
                    _simulated_source(event.id, platform, "demo", speed=3.0, rate_scale=5.0)
                )
            await moderation.replace(session, event.id, 0, _demo_rules(), "system")
            await _demo_show(session, event, user)
        await session.commit()
        link_token = auth.make_login_link(user.id, settings.effective_secret())
    await db.dispose()
    return password, event.id, link_token


async def _demo_show(session: Any, event: Any, user: Any) -> None:
    """A run-of-show with polls drafted for it and an audience page, as a planner would
    leave them: the host view has something to press GO on."""
    from datetime import UTC, datetime

    from app.audience import service as audience
    from app.cues import service as cues
    from app.cues.schemas import CueSpec
    from app.polls import service as polls
    from app.polls.models import PollKind

    def draft(title: str, kind: PollKind, options: list[str], duration_s: int) -> Any:
        return polls.create(
            session,
            event.id,
            title=title,
            kind=kind,
            options=options,
            duration_s=duration_s,
            cue_id=None,
            actor=user,
        )

    warmup = await draft("Where are you watching from?", PollKind.single,
                         ["Europe", "Americas", "Asia-Pacific", "Elsewhere"], 90)  # fmt: skip
    rating = await draft("How useful was the keynote?", PollKind.rating, [], 120)
    topics = await draft("What should we cover next?", PollKind.multiple,
                         ["Pricing", "Roadmap", "Integrations", "Security"], 120)  # fmt: skip
    sheet = [
        {"title": "Welcome and housekeeping", "planned_duration_s": 180, "owner_role": "host",
         "notes": "Mention the audience page link and QR code.",
         "actions": [{"type": "open_poll", "poll_id": warmup.id}]},
        {"title": "Keynote: Launch Day", "planned_duration_s": 900, "owner_role": "host",
         "actions": [{"type": "close_poll", "poll_id": warmup.id}]},
        {"title": "Q&A", "planned_duration_s": 600, "owner_role": "moderator",
         "actions": [{"type": "open_qa"}, {"type": "open_poll", "poll_id": rating.id}]},
        {"title": "Wrap-up", "planned_duration_s": 120, "owner_role": "host",
         "actions": [{"type": "close_qa"}, {"type": "open_poll", "poll_id": topics.id}]},
    ]  # fmt: skip
    specs = [CueSpec.model_validate(c) for c in sheet]
    await cues.import_sheet(session, event.id, specs, user, datetime.now(UTC))
    await audience.ensure_source(session, event, user)


def _demo_rules() -> Any:
    from app.moderation.rules import RuleSet

    return RuleSet.model_validate(
        {
            "banned_terms": [
                {"term": "buy followers", "action": "hide", "whole_word": True},
                {"term": "free viewers", "action": "hold", "whole_word": True},
                {"term": "crypto giveaway", "action": "hold", "whole_word": True},
            ],
            "flood": {"max_messages": 6, "per_seconds": 20, "action": "hold"},
            "spam": {"threshold": 0.7, "action": "hold"},
        }
    )


def cmd_demo(args: argparse.Namespace) -> None:
    from app.main import create_app

    # The demo is one process on the embedded defaults, whatever the environment says.
    settings = _settings(args, redis_url=None)
    if not settings.secret_key:
        settings = settings.model_copy(update={"secret_key": secrets.token_urlsafe(32)})
    migrate(settings)
    password, event_id, link_token = asyncio.run(prepare_demo(settings))
    base = f"http://{settings.host}:{settings.port}"
    link = f"{base}/api/auth/link?t={link_token}&next=/%23/events/{event_id}"
    print(
        "\n  Control Room demo\n"
        f"  console:  {base}/\n"
        f"  log in:   demo / {password}\n"
        f"  or open:  {link}\n"
        "  (the link logs you in; it works for 10 minutes)\n",
        flush=True,
    )
    if not args.no_browser:
        webbrowser.open(link)
    _run_server(settings, create_app(settings, embedded_worker=True))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="controlroom",
        description="Control Room: the live control room for virtual events. "
        "Settings come from CONTROLROOM_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def listen(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", help="address to listen on (CONTROLROOM_HOST)")
        p.add_argument("--port", type=int, help="port to listen on (CONTROLROOM_PORT)")

    demo = sub.add_parser(
        "demo",
        help="one process on SQLite + the in-memory bus, a simulated event, the console",
        description="Runs everything in one process on the embedded defaults: migrates the "
        "SQLite database, creates the 'demo' admin and a simulated three-platform webinar, "
        "and serves the console with the simulator playing.",
    )
    listen(demo)
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser")
    demo.set_defaults(func=cmd_demo)

    serve = sub.add_parser(
        "serve",
        help="the API and WebSocket hub (run several behind a load balancer)",
        description="Serves the REST API, the console and the WebSocket hub. Needs a "
        "migrated database; with CONTROLROOM_REDIS_URL set, any number can run side by side.",
    )
    listen(serve)
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser(
        "worker",
        help="the pipeline and the connectors (run several; they share the work)",
        description="Reads every active event's ingest stream (dedupe, classify, persist, "
        "publish deltas) and runs the connectors whose lease it wins. Needs "
        "CONTROLROOM_REDIS_URL to share work with the serve processes.",
    )
    worker.set_defaults(func=cmd_worker)

    mig = sub.add_parser("migrate", help="upgrade (or downgrade) the database schema")
    mig.add_argument("revision", nargs="?", default="head", help="head (default), base, -1")
    mig.set_defaults(func=cmd_migrate)

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    add = user.add_parser("add", help="create a user", description="Creates a user.")
    add.add_argument("username")
    add.add_argument(
        "--role",
        default="moderator",
        choices=["admin", "ops_lead", "moderator", "host", "viewer"],
    )
    add.add_argument("--password", help="prompted for when omitted")
    add.add_argument("--token", action="store_true", help="also create an API token")
    add.set_defaults(func=cmd_user_add)

    event = sub.add_parser("event", help="manage events").add_subparsers(
        dest="action", required=True
    )
    create = event.add_parser("create", help="create an event", description="Creates an event.")
    create.add_argument("slug")
    create.add_argument("title")
    create.add_argument(
        "--simulate", action="store_true", help="feed it from the simulator (three platforms)"
    )
    create.add_argument("--scenario", default="demo", help="simulator scenario name")
    create.set_defaults(func=cmd_event_create)

    from app.reports.render import RENDERERS, TABLE_NAMES

    report = sub.add_parser(
        "report",
        help="the post-event report of an event (html, md, json or csv)",
        description="Builds the post-event report of EVENT (its id or slug) from the "
        "database: KPIs, series, segments, questions, polls, incidents and the rules' "
        "highlights, shortcomings and recommendations (docs/PROTOCOL.md, Report).",
    )
    report.add_argument("event", metavar="EVENT", help="the event's id or slug")
    report.add_argument(
        "--format",
        default="json",
        choices=sorted(RENDERERS),
        help="html: one self-contained file that prints on A4; md: the same as Markdown; "
        "json: every figure; csv: one table (--series). Default: json",
    )
    report.add_argument(
        "--series",
        default="audience",
        choices=TABLE_NAMES,
        help="the table a one-table format (csv) writes (default: audience)",
    )
    report.add_argument(
        "--compare",
        nargs="?",
        const="series",
        metavar="OTHER",
        help="add a comparison: with OTHER (id or slug), or alone for the last event of "
        "the same series",
    )
    report.add_argument("--out", help="write to this file instead of stdout")
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs every request URL at INFO: a poll every few seconds per source, and
    # some platform APIs carry tokens in the query. Errors reach us as exceptions.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args.func(args)


if __name__ == "__main__":
    main()
