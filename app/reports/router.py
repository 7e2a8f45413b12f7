"""The post-event report over REST, for every member of the event: the figures as JSON,
any of its tables as CSV, and a comparison with another event."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.deps import EventMemberDep, SessionDep, event_access
from app.errors import NotFound
from app.reports import comparison, figures, render, render_html

router = APIRouter(prefix="/api/events/{event_id}", tags=["reports"])


def _json(body: object) -> Response:
    # orjson straight to bytes: the figures are JSON-ready, and large for a long event.
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/report")
async def report(
    access: EventMemberDep,
    session: SessionDep,
    format: Annotated[
        str | None,
        Query(
            pattern=f"^({'|'.join(sorted(render.RENDERERS))})$",
            description="a file to download: html, md, json or csv (csv: the `series` table); "
            "none: the figures as JSON",
        ),
    ] = None,
    series: Annotated[
        render.SeriesName, Query(description="the table format=csv writes")
    ] = render.SeriesName.audience,
    inline: Annotated[
        bool, Query(description="show the file in the browser rather than download it")
    ] = False,
) -> Response:
    """Every figure of the post-event report (docs/PROTOCOL.md, "Report"), or the report
    rendered as a file with ?format=."""
    found = await figures.build(session, access.event.id)
    if format is None:
        return _json(found)
    renderer = render.RENDERERS[format]
    body = renderer.render(found, render.RenderOptions(series=series.value))
    name = f"{access.event.slug}-report"
    if format == "csv":
        name += f"-{series.value}"
    headers = {
        "Content-Disposition": (
            f'{"inline" if inline else "attachment"}; filename="{name}.{renderer.extension}"'
        )
    }
    if format == "html":
        # The page shows audience text: as it opens, it may load nothing, run nothing.
        headers["Content-Security-Policy"] = render_html.CSP
    return Response(body, media_type=renderer.media_type, headers=headers)


@router.get("/report.csv")
async def report_csv(
    access: EventMemberDep,
    session: SessionDep,
    series: Annotated[
        render.SeriesName, Query(description="which table")
    ] = render.SeriesName.audience,
) -> Response:
    """One table of the report as CSV (a header row, then one row per minute or item)."""
    found = await figures.build(session, access.event.id)
    body = render.csv_text(render.table(found, series.value))
    filename = f"{access.event.slug}-{series.value}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/report/compare")
async def report_compare(
    access: EventMemberDep,
    request: Request,
    session: SessionDep,
    with_: Annotated[
        str | None,
        Query(alias="with", description="the other event's id; default: the last of the series"),
    ] = None,
) -> Response:
    """This event's figures against another's (default: the last event of its series)."""
    if with_ is not None:
        # The caller must be allowed to open the other event too (404 / 403 otherwise).
        other = (await event_access(with_, request, session)).event
        basis = "explicit"
    else:
        found = await comparison.previous_in_series(session, access.event)
        if found is None:
            prefix = comparison.series_prefix(access.event.slug)
            raise NotFound(
                f"no earlier event in series '{prefix}' to compare with: pass ?with=<event id>"
                if prefix
                else f"slug '{access.event.slug}' has no series (no '-'): pass ?with=<event id>"
            )
        # Series membership is not membership: the other event must be one the caller may open.
        other = (await event_access(found.id, request, session)).event
        basis = "series"
    mine = await figures.build(session, access.event.id)
    theirs = await figures.build(session, other.id)
    return _json(comparison.compare(mine, theirs, basis=basis))
