"""The playbook as YAML: a canonical export, and an import whose errors name the line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from app.errors import AppError
from app.playbooks.schemas import SIGNALS, PlaybookSpec, problems
from app.yaml_lines import Spot, YamlProblem, dotted, load, locate

MAX_REPORTED = 50


class InvalidPlaybook(AppError):
    status_code = 422
    code = "invalid_playbook"


class _Dumper(yaml.SafeDumper):
    """Block scalars for multi-line text (templates read as written); no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Lists indented under their key, as people write them (and default.yaml is).
        super().increase_indent(flow, False)


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def to_yaml(name: str, entries: Sequence[dict[str, Any]]) -> str:
    """The same playbook always gives the same bytes: fields in schema order, every
    default written out, so an export imported again exports identically."""
    return yaml.dump(
        {"name": name, "entries": list(entries)},
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )


def _say(err: ErrorDetails) -> tuple[tuple[str | int, ...], str]:
    """The location and a message in the playbook's words for one pydantic error."""
    loc, kind, msg = tuple(err["loc"]), err["type"], err["msg"]
    ctx = err.get("ctx") or {}
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        name = str(ctx.get("discriminator", "signal")).strip("'\"")
        if kind == "union_tag_not_found":
            return (*loc, name), f"required: one of {', '.join(SIGNALS)}"
        tag = ctx.get("tag")
        return (*loc, name), f"unknown {name} {tag!r}: use one of {', '.join(SIGNALS)}"
    if kind == "missing":
        return loc, "required"
    if kind == "extra_forbidden":
        return loc, "unknown field: remove it or check its spelling"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return loc, "must not be empty"
    msg = msg.removeprefix("Value error, ")
    msg = msg.replace("Input should be", "must be", 1)
    return loc, msg


def _row(spot: Spot, problem: str, **more: Any) -> dict[str, Any]:
    return {
        "line": spot.line,
        "column": spot.column,
        "field": dotted(spot.path),
        "problem": problem,
        **more,
    }


def _fail(rows: list[dict[str, Any]]) -> InvalidPlaybook:
    rows.sort(key=lambda r: (r["line"], r["column"]))
    first = rows[0]
    where = f"line {first['line']}, column {first['column']}"
    what = (
        f"{where}: {first['field']}: {first['problem']}"
        if first["field"]
        else f"{where}: {first['problem']}"
    )
    more = f" (and {len(rows) - 1} more: see details)" if len(rows) > 1 else ""
    return InvalidPlaybook(f"fix the playbook: {what}{more}", details=rows[:MAX_REPORTED])


def from_yaml(text: str) -> PlaybookSpec:
    """`name:` and `entries: [...]`, validated; JSON is YAML too."""
    try:
        data, root = load(text)
    except YamlProblem as exc:
        raise _fail([_row(exc.spot, exc.problem)]) from exc
    if not isinstance(data, dict):
        raise _fail(
            [_row(Spot(1, 1, ()), "expected a mapping: name: …, entries: [ … ] (see the export)")]
        )
    try:
        spec = PlaybookSpec.model_validate(data)
    except ValidationError as exc:
        rows = []
        for err in exc.errors():
            loc, problem = _say(err)
            rows.append(_row(locate(root, loc), problem))
        raise _fail(rows) from exc
    found = problems(spec)
    if found:
        rows = []
        for p in found:
            spot = locate(root, p.loc)
            if p.first is None:
                rows.append(_row(spot, p.message))
                continue
            first = locate(root, p.first)
            rows.append(
                _row(
                    spot, f"{p.message} (the other is on line {first.line})", first_line=first.line
                )
            )
        raise _fail(rows)
    return spec
