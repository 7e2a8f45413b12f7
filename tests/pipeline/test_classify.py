import pytest

from app.pipeline.classify import is_question


@pytest.mark.parametrize(
    "text",
    [
        "How does the sync engine scale past a million users?",
        "will the slides be shared afterwards?",
        "Q: what's the pricing for teams",
        "Is there a recording? asking for a friend",
        "¿Habrá grabación de la charla?",
        "can you zoom in on the diagram? https://example.com/d?x=1",
    ],
)
def test_questions(text: str) -> None:
    assert is_question(text)


@pytest.mark.parametrize(
    "text",
    [
        "see https://example.com/page?id=3",
        "docs at www.example.org/search?q=sync",
        "example.com/path?ref=chat is the link",
        "???",
        "ok?",
        "great talk!",
        "",
        None,
    ],
)
def test_not_questions(text: str | None) -> None:
    assert not is_question(text)
