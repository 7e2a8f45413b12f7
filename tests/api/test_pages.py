"""The audience page and the overlays are served without a login, as pages of their own."""

from __future__ import annotations

import httpx

from tests.conftest import Stack


async def test_audience_and_overlay_pages_need_no_login(stack: Stack) -> None:
    from app.main import create_app

    app = create_app(stack.settings, db=stack.db, bus=stack.bus)
    if not (stack.settings.frontend_dist / "audience.html").exists():
        import pytest

        pytest.skip("console not built")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            audience = await client.get("/a/launch-7Q2")
            assert audience.status_code == 200 and "/assets/audience-" in audience.text
            overlay = await client.get("/overlay/poll", params={"token": "x"})
            assert overlay.status_code == 200 and "/assets/overlay-" in overlay.text
            console = await client.get("/")
            assert console.status_code == 200 and "/assets/console-" in console.text
