"""The envelope's fast paths write and build exactly what pydantic would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from app import envelope as envelope_module
from app.envelope import Author, Envelope, Kind, make_envelope

AUTHORS = (None, Author(id="1", name="Zoë", roles=("moderator", "vip")))
TEXTS = (None, "héllo \u2028 <b>bold</b>")
DATA = (
    {},
    {"count": 3, "nested": {"a": [1, 2.5, None, True]}, "at": datetime(2024, 1, 1, tzinfo=UTC)},
)


@pytest.mark.parametrize("kind", list(Kind))
def test_to_json_is_byte_for_byte_what_pydantic_writes(kind: Kind) -> None:
    berlin = timezone(timedelta(hours=2))
    for author in AUTHORS:
        for text in TEXTS:
            for data in DATA:
                env = make_envelope(
                    event_id="e", source_id="s", platform="p", kind=kind,
                    platform_message_id="m", platform_at=datetime(2024, 5, 1, 17, 0, 1, 5, berlin),
                    author=author, text=text, data=dict(data), raw={"x": [1]},
                )  # fmt: skip
                assert env.to_json() == orjson.dumps(env.model_dump(mode="json"))
                assert Envelope.from_json(env.to_json()).to_json() == env.to_json()


def test_trusted_envelopes_equal_validated_ones_and_copy_safely() -> None:
    assert envelope_module._TRUSTED_OK
    at = datetime(2024, 5, 1, 17, 0, tzinfo=UTC)
    validated = make_envelope(
        event_id="e", source_id="s", platform="twitch", kind=Kind.chat, platform_message_id="m",
        platform_at=at, ingest_at=at, author=Author(id="1", name="n", roles=("vip",)), text="hi",
    )  # fmt: skip
    trusted = Envelope.trusted(
        {**validated.__dict__, "author": Envelope.trusted_author("1", "n", ("vip",))}
    )
    assert trusted == validated and trusted.to_json() == validated.to_json()
    changed = trusted.model_copy(update={"text": "changed"})
    assert changed.text == "changed" and trusted.text == "hi"
    assert trusted.model_fields_set == set(Envelope.model_fields), "the shared set is untouched"
