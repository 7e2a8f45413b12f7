"""YAML that remembers where each value came from, so import errors can name the line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from fastapi import Request

# Content types a YAML upload may come with (JSON is YAML too).
YAML_MEDIA_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
# Aliases let a few lines name millions of values; validation would walk them all.
MAX_NODES = 200_000


async def text_upload(request: Request, max_bytes: int, what: str, too_big: str) -> tuple[str, str]:
    """(content type, text) of an uploaded file (a run-of-show sheet, a playbook): at most
    `max_bytes` ("… over N bytes: <too_big>"), UTF-8 with or without a byte-order mark."""
    from app.errors import AppError

    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if len(raw) > max_bytes:
        raise AppError(f"the {what} is over {max_bytes} bytes: {too_big}")
    try:
        return kind, raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AppError(f"send the {what} as UTF-8 text") from exc


@dataclass(frozen=True)
class Spot:
    """Where a value is in the text (1-based), and the path that leads to it."""

    line: int
    column: int
    path: tuple[str | int, ...]


class YamlProblem(Exception):
    """Text that is not YAML, or not one document of it; says where."""

    def __init__(self, spot: Spot, problem: str) -> None:
        super().__init__(f"line {spot.line}: {problem}")
        self.spot = spot
        self.problem = problem


def _spot(mark: Any, path: tuple[str | int, ...] = ()) -> Spot:
    return Spot(mark.line + 1, mark.column + 1, path)


def load(text: str) -> tuple[Any, yaml.Node | None]:
    """The data and the node tree it was built from (None for an empty text).

    Duplicate keys are refused: YAML would keep the last one silently, and what the
    writer meant by the first would be lost without a word.
    """
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        _check_nodes(root)
        return loader.construct_document(root), root
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        spot = _spot(mark) if mark is not None else Spot(1, 1, ())
        raise YamlProblem(spot, f"not valid YAML: {problem}") from exc
    finally:
        loader.dispose()


def _check_nodes(root: yaml.Node) -> None:
    seen = 0
    todo: list[tuple[yaml.Node, tuple[str | int, ...]]] = [(root, ())]
    while todo:
        node, path = todo.pop()
        seen += 1
        if seen > MAX_NODES:
            raise YamlProblem(
                _spot(root.start_mark), f"over {MAX_NODES} values once aliases are expanded"
            )
        if isinstance(node, yaml.MappingNode):
            first: dict[str, yaml.Node] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if key.value in first:
                        where = first[key.value].start_mark.line + 1
                        raise YamlProblem(
                            _spot(key.start_mark, (*path, key.value)),
                            f"duplicate key {key.value!r} (first on line {where}): keep one",
                        )
                    first[key.value] = key
                    todo.append((value, (*path, key.value)))
                else:
                    todo += ((key, path), (value, path))
        elif isinstance(node, yaml.SequenceNode):
            todo += ((item, (*path, i)) for i, item in enumerate(node.value))


def locate(root: yaml.Node | None, loc: Sequence[str | int]) -> Spot:
    """Where the value at `loc` (a pydantic error location) is written.

    A key that is there points at its own line; a key that is missing points at the
    mapping that lacks it. A step that matches no key and is not the last is a tag
    pydantic adds for a union member (`open_poll`, `viewers_drop`): it is skipped, and
    left out of the path.
    """
    if root is None:
        return Spot(1, 1, tuple(loc))
    node: yaml.Node = root
    mark = root.start_mark
    path: list[str | int] = []
    for i, step in enumerate(loc):
        last = i == len(loc) - 1
        if (
            isinstance(node, yaml.SequenceNode)
            and isinstance(step, int)
            and 0 <= step < len(node.value)
        ):
            node = node.value[step]
            mark = node.start_mark
            path.append(step)
            continue
        if isinstance(node, yaml.MappingNode):
            pair = next(
                (
                    (k, v)
                    for k, v in node.value
                    if isinstance(k, yaml.ScalarNode) and k.value == str(step)
                ),
                None,
            )
            if pair is not None:
                mark, node = pair[0].start_mark, pair[1]
                path.append(step)
                continue
            if not last:
                continue
        path.append(step)
    return _spot(mark, tuple(path))


def dotted(path: Sequence[str | int]) -> str:
    """`entries[2].detection[0].condition`: how a path reads in an error message."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out
