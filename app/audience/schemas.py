from __future__ import annotations

from pydantic import BaseModel, Field

# Generous raw bounds: the real limits (limits.MAX_TEXT, MAX_NAME) are checked after
# trimming, with a 413 that says how long the text was.
_RAW_MAX = 20_000


class QuestionIn(BaseModel):
    # A uuid the page makes per question: a resend after a network error is the same one.
    id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    text: str = Field(max_length=_RAW_MAX)
    name: str | None = Field(default=None, max_length=_RAW_MAX)
    anonymous: bool = False


class VoteIn(BaseModel):
    poll_id: str = Field(min_length=1, max_length=32)
    choices: list[int] = Field(min_length=1, max_length=10)


class UpvoteIn(BaseModel):
    question_id: str = Field(min_length=1, max_length=64)
