"""The audience page on both stacks: questions into the triage queue, poll votes, upvotes,
and its limits (bursts, oversize text, HTML payloads, unknown codes)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from app.audience import qr
from app.audience.snapshot import FRESH_S
from app.main import create_app
from app.pipeline.worker import PipelineWorker
from app.polls import service as polls
from app.polls.models import PollKind, Vote
from app.questions import service as questions
from app.questions.models import Question, QuestionState
from tests.conftest import Seeded, Stack
from tests.pipeline.harness import deltas, drain


@dataclass
class Page:
    app: object
    admin: httpx.AsyncClient
    code: str
    url: str
    source_id: str

    def visitor(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://t")  # type: ignore[arg-type]


@pytest.fixture
def snapshot_s() -> float:
    return 0.0  # every request reads what it shows; the snapshot test sets its own


@pytest.fixture
async def page(stack: Stack, seeded: Seeded, snapshot_s: float) -> AsyncIterator[Page]:
    settings = stack.settings.model_copy(update={"audience_snapshot_s": snapshot_s})
    app = create_app(settings, db=stack.db, bus=stack.bus)
    async with app.router.lifespan_context(app):
        admin = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        resp = await admin.post(
            "/api/auth/login", json={"username": "admin", "password": seeded.admin_password}
        )
        assert resp.status_code == 200
        resp = await admin.post(f"/api/events/{seeded.event.id}/audience")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        try:
            yield Page(app, admin, body["code"], body["url"], body["source_id"])
        finally:
            await admin.aclose()


async def visit(page: Page) -> httpx.AsyncClient:
    client = page.visitor()
    resp = await client.get(f"/api/a/{page.code}")
    assert resp.status_code == 200, resp.text
    assert "cr_audience" in client.cookies
    return client


async def ask(client: httpx.AsyncClient, page: Page, text: str, **extra: object) -> httpx.Response:
    body = {"id": str(uuid.uuid4()), "text": text, **extra}
    return await client.post(f"/api/a/{page.code}/questions", json=body)


async def test_the_code_is_stable_and_the_page_needs_no_login(page: Page, seeded: Seeded) -> None:
    again = await page.admin.post(f"/api/events/{seeded.event.id}/audience")
    assert again.json()["code"] == page.code
    assert page.url.endswith(f"/a/{page.code}") and len(page.code) == 8
    async with page.visitor() as client:
        resp = await client.get(f"/api/a/{page.code}")
        assert resp.status_code == 200
        body = resp.json()
        assert body["event"]["title"] == "Launch"
        assert body["poll"] is None and body["questions"] == []
        cookie = resp.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        # A browser that already has its id keeps it.
        assert "set-cookie" not in (await client.get(f"/api/a/{page.code}")).headers


async def test_unknown_code_is_404(page: Page) -> None:
    async with page.visitor() as client:
        resp = await client.get("/api/a/nope1234")
        assert resp.status_code == 404
        assert "check the link" in resp.json()["error"]["message"]
        resp = await client.post("/api/a/nope1234/questions", json={"id": "x" * 10, "text": "hi"})
        assert resp.status_code == 404


async def test_a_moderator_cannot_make_the_link(
    page: Page, mod: httpx.AsyncClient, seeded: Seeded
) -> None:
    resp = await mod.post(f"/api/events/{seeded.event.id}/audience")
    assert resp.status_code == 403


async def test_a_question_reaches_the_triage_queue_through_the_pipeline(
    page: Page, stack: Stack, seeded: Seeded
) -> None:
    client = await visit(page)
    named = await ask(client, page, "  How do you test the pipeline?  ", name="Ana")
    assert named.status_code == 202, named.text
    hidden = await ask(client, page, "Is there a free tier?", name="Ben Secret", anonymous=True)
    assert hidden.status_code == 202
    worker = PipelineWorker(stack.bus, stack.db, consumer="w1")
    await drain(stack, worker, seeded.event.id)
    async with stack.db.sessions() as session:
        rows = {q.id: q for q in await session.scalars(select(Question))}
    first, second = rows[named.json()["id"]], rows[hidden.json()["id"]]
    assert first.state == QuestionState.pending and first.platform == "audience"
    assert first.text == "How do you test the pipeline?" and first.author_name == "Ana"
    # Anonymous: the name never reaches the store.
    assert second.author_name == "Anonymous" and "Ben" not in repr(second.__dict__)
    created = [d for d in await deltas(stack, seeded.event.id) if d["type"] == "question.created"]
    assert {d["data"]["id"] for d in created} == {first.id, second.id}
    # Not shown to the audience until a moderator approves it.
    assert (await client.get(f"/api/a/{page.code}")).json()["questions"] == []
    await client.aclose()


async def test_a_resent_question_is_filed_once(page: Page, stack: Stack, seeded: Seeded) -> None:
    client = await visit(page)
    body = {"id": str(uuid.uuid4()), "text": "Same one twice?"}
    for _ in range(2):
        assert (await client.post(f"/api/a/{page.code}/questions", json=body)).status_code == 202
    await drain(stack, PipelineWorker(stack.bus, stack.db, consumer="w1"), seeded.event.id)
    async with stack.db.sessions() as session:
        assert len((await session.scalars(select(Question))).all()) == 1
    await client.aclose()


async def test_a_burst_from_one_client_is_limited_while_another_still_passes(page: Page) -> None:
    flooder, other = await visit(page), await visit(page)
    codes = [(await ask(flooder, page, f"Question number {n}?")).status_code for n in range(5)]
    assert codes == [202, 202, 202, 429, 429]
    limited = await ask(flooder, page, "One more?")
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"
    assert "try again in" in limited.json()["error"]["message"]
    assert (await ask(other, page, "My first question?")).status_code == 202
    await flooder.aclose()
    await other.aclose()


async def test_oversize_empty_and_control_text_are_refused_with_advice(page: Page) -> None:
    client = await visit(page)
    too_long = await ask(client, page, "a" * 501)
    assert too_long.status_code == 413
    assert "501 characters" in too_long.json()["error"]["message"]
    assert (await ask(client, page, "a" * 500)).status_code == 202
    assert (await ask(client, page, "x" * 30_000)).status_code == 422
    assert (await ask(client, page, "ok?", name="n" * 61)).status_code == 413
    empty = await ask(client, page, "   \n ")
    assert empty.status_code == 422 and "empty" in empty.json()["error"]["message"]
    control = await ask(client, page, "bell\x07 here")
    assert control.status_code == 422 and "control" in control.json()["error"]["message"]
    assert (await ask(client, page, "evil \u202egnp.exe")).status_code == 422
    # Refused sends do not use up the client's budget: 1 accepted so far.
    assert (await ask(client, page, "Second?")).status_code == 202
    await client.aclose()


async def test_posting_without_the_page_cookie_is_refused(page: Page) -> None:
    async with page.visitor() as client:
        resp = await ask(client, page, "Hello?")
        assert resp.status_code == 400 and "reload the page" in resp.json()["error"]["message"]


HTML = '<script>alert("x")</script><img src=x onerror=alert(1)> & <b>bold</b>'


async def test_html_and_script_are_stored_and_returned_as_plain_text(
    page: Page, stack: Stack, seeded: Seeded
) -> None:
    client = await visit(page)
    resp = await ask(client, page, HTML, name="<i>Eve</i>")
    assert resp.status_code == 202
    await drain(stack, PipelineWorker(stack.bus, stack.db, consumer="w1"), seeded.event.id)
    async with stack.db.sessions() as session:
        question = await session.get(Question, resp.json()["id"])
        assert question is not None and question.text == HTML
        await questions.transition(
            session, question, QuestionState.approved, question.version, "test"
        )
        await session.commit()
    shown = await client.get(f"/api/a/{page.code}")
    assert shown.headers["content-type"].startswith("application/json")
    [item] = shown.json()["questions"]
    assert item["text"] == HTML and item["author"] == "<i>Eve</i>"
    assert '<script>alert(\\"x\\")</script>' in shown.text  # literal characters, not escaped HTML
    await client.aclose()


async def _approved_and_pending(stack: Stack, seeded: Seeded, page: Page) -> tuple[str, str]:
    client = await visit(page)
    first = (await ask(client, page, "Approved one?")).json()["id"]
    second = (await ask(client, page, "Still pending?")).json()["id"]
    await client.aclose()
    await drain(stack, PipelineWorker(stack.bus, stack.db, consumer="w1"), seeded.event.id)
    async with stack.db.sessions() as session:
        question = await session.get(Question, first)
        assert question is not None
        await questions.transition(
            session, question, QuestionState.approved, question.version, "test"
        )
        await session.commit()
    return first, second


async def test_upvotes_count_once_and_only_on_approved_questions(
    page: Page, stack: Stack, seeded: Seeded
) -> None:
    approved, pending = await _approved_and_pending(stack, seeded, page)
    ana, ben = await visit(page), await visit(page)
    url = f"/api/a/{page.code}/upvotes"
    assert (await ana.post(url, json={"question_id": approved})).json()["votes"] == 1
    assert (await ana.post(url, json={"question_id": approved})).json()["votes"] == 1
    assert (await ben.post(url, json={"question_id": approved})).json()["votes"] == 2
    refused = await ana.post(url, json={"question_id": pending})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "question_not_open"
    assert (await ana.post(url, json={"question_id": "nope"})).status_code == 404
    [shown] = (await ana.get(f"/api/a/{page.code}")).json()["questions"]
    assert shown["id"] == approved and shown["votes"] == 2 and shown["voted"] is True
    updated = [d for d in await deltas(stack, seeded.event.id) if d["type"] == "question.updated"]
    assert updated[-1]["data"]["votes"] == 2
    await ana.aclose()
    await ben.aclose()


async def test_a_poll_vote_counts_once_and_a_change_replaces_it(
    page: Page, stack: Stack, seeded: Seeded
) -> None:
    async with stack.db.sessions() as session:
        poll = await polls.create(
            session, seeded.event.id, title="Best talk?", kind=PollKind.single,
            options=["Keynote", "Panel", "Demo"], duration_s=None, cue_id=None, actor="test",
        )  # fmt: skip
        await polls.launch(session, poll, "test")
        await session.commit()
    client = await visit(page)
    shown = (await client.get(f"/api/a/{page.code}")).json()["poll"]
    assert shown["id"] == poll.id and shown["options"] == ["Keynote", "Panel", "Demo"]
    assert shown["results"] is None and shown["state"] == "open"
    url = f"/api/a/{page.code}/votes"
    for choices in ([1], [1], [3]):
        assert (
            await client.post(url, json={"poll_id": poll.id, "choices": choices})
        ).status_code == 202
    bad = await client.post(url, json={"poll_id": poll.id, "choices": [1, 2]})
    assert bad.status_code == 422 and "single choice" in bad.json()["error"]["message"]
    await drain(stack, PipelineWorker(stack.bus, stack.db, consumer="w1"), seeded.event.id)
    async with stack.db.sessions() as session:
        votes = (await session.scalars(select(Vote).where(Vote.poll_id == poll.id))).all()
        assert [(v.voter.split(":")[0], v.choices) for v in votes] == [("audience", [3])]
        fresh = await polls.get(session, seeded.event.id, poll.id)
        await polls.close(session, fresh, "test")
        await session.commit()
    closed = (await client.get(f"/api/a/{page.code}")).json()["poll"]
    assert closed["state"] == "closed" and closed["my_choices"] == [3]
    assert closed["results"]["options"] == [0, 0, 1] and closed["results"]["total_voters"] == 1
    late = await client.post(url, json={"poll_id": poll.id, "choices": [2]})
    assert late.status_code == 422 and "not open" in late.json()["error"]["message"]
    await client.aclose()


@pytest.mark.parametrize("snapshot_s", [60.0])
async def test_pages_share_one_read_and_a_vote_for_a_new_poll_looks_again(
    page: Page, stack: Stack, seeded: Seeded
) -> None:
    clients = [page.visitor() for _ in range(30)]
    pages = await asyncio.gather(*(c.get(f"/api/a/{page.code}") for c in clients))
    assert all(p.status_code == 200 and p.json()["poll"] is None for p in pages)
    snapshots = page.app.state.audience_snapshots  # type: ignore[attr-defined]
    assert snapshots.reads == 1, "thirty pages at once, one database read"
    async with stack.db.sessions() as session:
        poll = await polls.create(
            session, seeded.event.id, title="Now?", kind=PollKind.single,
            options=["Yes", "No"], duration_s=None, cue_id=None, actor="test",
        )  # fmt: skip
        await polls.launch(session, poll, "test")
        await session.commit()
    stale = (await clients[0].get(f"/api/a/{page.code}?mine=false")).json()
    assert stale["poll"] is None, "within the snapshot's age the page is not read again"
    await asyncio.sleep(FRESH_S + 0.02)
    resp = await clients[0].post(
        f"/api/a/{page.code}/votes", json={"poll_id": poll.id, "choices": [2]}
    )
    assert resp.status_code == 202, "a vote for a poll the snapshot missed looks again"
    assert snapshots.reads == 2
    shown = (await clients[1].get(f"/api/a/{page.code}?mine=false")).json()["poll"]
    assert shown["id"] == poll.id and "my_choices" not in shown
    await drain(stack, PipelineWorker(stack.bus, stack.db, consumer="w1"), seeded.event.id)
    mine = (await clients[0].get(f"/api/a/{page.code}")).json()["poll"]
    assert mine["my_choices"] == [2], "with mine, the reader's own ballot"
    for c in clients:
        await c.aclose()


async def test_the_link_reads_rotates_and_comes_as_a_qr_code(page: Page, seeded: Seeded) -> None:
    read = await page.admin.get(f"/api/events/{seeded.event.id}/audience")
    assert read.status_code == 200 and read.json()["code"] == page.code
    assert read.json()["qr_url"].endswith(f"/api/a/{page.code}/qr.svg")
    qr = await page.admin.get(f"/api/a/{page.code}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/svg+xml"
    assert qr.text.startswith("<svg") and "Audience page link" in qr.text
    rotated = await page.admin.post(f"/api/events/{seeded.event.id}/audience/rotate")
    assert rotated.status_code == 200
    new_code = rotated.json()["code"]
    assert new_code != page.code and len(new_code) == 8
    visitor = page.visitor()
    assert (await visitor.get(f"/api/a/{page.code}")).status_code == 404, "the old link"
    assert (await visitor.get(f"/api/a/{page.code}/qr.svg")).status_code == 404
    assert (await visitor.get(f"/api/a/{new_code}")).status_code == 200
    new_qr = await visitor.get(f"/api/a/{new_code}/qr.svg")
    assert new_qr.status_code == 200 and new_qr.text != qr.text, "another link, another code"
    audit = (await page.admin.get(f"/api/events/{seeded.event.id}/audit")).json()
    rotation = next(r for r in audit if r["action"] == "audience_code_rotate")
    assert rotation["before"] == {"code": page.code} and rotation["after"] == {"code": new_code}
    await visitor.aclose()


async def test_no_link_yet_reads_as_null_and_rotating_it_is_404(
    stack: Stack, seeded: Seeded
) -> None:
    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    async with app.router.lifespan_context(app):
        admin = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        await admin.post(
            "/api/auth/login", json={"username": "admin", "password": seeded.admin_password}
        )
        read = await admin.get(f"/api/events/{seeded.event.id}/audience")
        assert read.status_code == 200 and read.json() is None
        rotate = await admin.post(f"/api/events/{seeded.event.id}/audience/rotate")
        assert rotate.status_code == 404 and "create it first" in rotate.json()["error"]["message"]
        await admin.aclose()


async def test_the_chat_rules_apply_to_audience_questions_and_anonymity_is_kept(
    page: Page, stack: Stack, seeded: Seeded
) -> None:
    rules = {
        "banned_terms": [
            {"term": "scam", "action": "hide", "whole_word": True},
            {"term": "free crypto", "action": "hold", "whole_word": True},
        ]
    }
    resp = await page.admin.put(
        f"/api/events/{seeded.event.id}/moderation/rules", json={"version": 0, "rules": rules}
    )
    assert resp.status_code == 200, resp.text
    client = await visit(page)
    ids = {}
    for label, text, extra in (
        ("bad", "This talk is a scam", {}),
        ("held", "Where do I get free crypto?", {}),
        ("fine", "How do you test this?", {"anonymous": True, "name": "Ana"}),
    ):
        sent = await ask(client, page, text, **extra)
        assert sent.status_code == 202
        ids[label] = sent.json()["id"]
    await drain(stack, PipelineWorker(stack.bus, stack.db, consumer="w1"), seeded.event.id)
    async with stack.db.sessions() as session:
        rows = {q.id: q for q in (await session.scalars(select(Question))).all()}
    bad, held, fine = rows[ids["bad"]], rows[ids["held"]], rows[ids["fine"]]
    assert (bad.state, bad.tags) == (QuestionState.rejected, ["auto-rejected"])
    assert (held.state, held.tags) == (QuestionState.pending, ["auto-flagged"])
    assert (fine.state, fine.tags, fine.anonymous) == (QuestionState.pending, [], True)
    assert fine.author_name == "Anonymous", "the typed name never reaches the row"
    audit = (await page.admin.get(f"/api/events/{seeded.event.id}/audit")).json()
    auto = {r["target_id"]: r for r in audit if r["actor"].startswith("rule:")}
    assert auto[bad.id]["action"] == "auto_reject" and "scam" in auto[bad.id]["after"]["reason"]
    assert auto[held.id]["action"] == "auto_flag"
    await client.aclose()


async def test_the_link_and_qr_use_the_public_address_when_set(
    stack: Stack, seeded: Seeded
) -> None:
    settings = stack.settings.model_copy(update={"public_url": "https://live.example.org/"})
    app = create_app(settings, db=stack.db, bus=stack.bus)
    async with app.router.lifespan_context(app):
        admin = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        await admin.post(
            "/api/auth/login", json={"username": "admin", "password": seeded.admin_password}
        )
        link = (await admin.post(f"/api/events/{seeded.event.id}/audience")).json()
        assert link["url"] == f"https://live.example.org/a/{link['code']}"
        assert link["qr_url"] == f"https://live.example.org/api/a/{link['code']}/qr.svg"
        internal = (await admin.get(f"/api/a/{link['code']}/qr.svg")).text
        expected = qr.svg(f"https://live.example.org/a/{link['code']}").decode()
        assert internal == expected, "the code encodes the public link, not http://t"
        await admin.aclose()
