"""The cue sheet as YAML or CSV: export, and import with errors that name the line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

import yaml
from pydantic import ValidationError

from app.cues.models import Cue
from app.cues.schemas import CueSpec
from app.errors import AppError
from app.yaml_lines import YamlProblem, load, locate

COLUMNS = ("title", "planned_start_at", "planned_duration_s", "owner_role", "notes", "actions")
MAX_CUES = 500


class InvalidSheet(AppError):
    status_code = 422
    code = "invalid_sheet"


def plan(cue: Cue) -> dict[str, Any]:
    """What a cue was planned to be: the columns a sheet carries."""
    return {
        "title": cue.title,
        "planned_start_at": cue.planned_start_at.isoformat() if cue.planned_start_at else None,
        "planned_duration_s": cue.planned_duration_s,
        "owner_role": cue.owner_role,
        "notes": cue.notes,
        "actions": list(cue.actions or []),
    }


def to_yaml(cues: Sequence[Cue]) -> str:
    return yaml.safe_dump(
        {"cues": [plan(c) for c in cues]}, sort_keys=False, allow_unicode=True, width=100
    )


def to_csv(cues: Sequence[Cue]) -> str:
    """One cue per line; actions as a JSON list in their column."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for cue in cues:
        row = plan(cue)
        row["planned_start_at"] = row["planned_start_at"] or ""
        row["actions"] = json.dumps(row["actions"]) if row["actions"] else ""
        writer.writerow(row)
    return out.getvalue()


def _problems(
    exc: ValidationError, line: int, node: yaml.Node | None = None
) -> list[dict[str, Any]]:
    """One problem per pydantic error: on the line of the value at fault when the cue's
    YAML node is known, else on the cue's own line (CSV)."""
    found = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        at = locate(node, err["loc"]).line if node is not None else line
        found.append({"line": at, "field": where, "problem": err["msg"]})
    return found


def _fail(problems: list[dict[str, Any]]) -> InvalidSheet:
    first = problems[0]
    where = f"line {first['line']}" + (f", field {first['field']}" if first["field"] else "")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return InvalidSheet(f"fix the sheet: {where}: {first['problem']}{more}", details=problems)


def from_yaml(text: str) -> list[CueSpec]:
    """A list of cues, or {"cues": [...]}; JSON is YAML too."""
    try:
        loaded, root = load(text)
    except YamlProblem as exc:
        raise _fail([{"line": exc.spot.line, "field": "", "problem": exc.problem}]) from exc
    items_node = root
    if isinstance(root, yaml.MappingNode):
        items_node = next((v for k, v in root.value if k.value == "cues"), None)
        loaded = loaded.get("cues") if isinstance(loaded, dict) else None
    if not isinstance(loaded, list) or not isinstance(items_node, yaml.SequenceNode):
        raise _fail([{"line": 1, "field": "", "problem": "expected a list of cues under 'cues:'"}])
    if len(loaded) > MAX_CUES:
        raise _fail([{"line": 1, "field": "", "problem": f"at most {MAX_CUES} cues"}])
    specs: list[CueSpec] = []
    problems: list[dict[str, Any]] = []
    for item, node in zip(loaded, items_node.value, strict=True):
        line = node.start_mark.line + 1
        if not isinstance(item, dict):
            problems.append({"line": line, "field": "", "problem": "a cue must be a mapping"})
            continue
        try:
            specs.append(CueSpec.model_validate(item))
        except ValidationError as exc:
            problems += _problems(exc, line, node)
    if problems:
        raise _fail(problems)
    return specs


def from_csv(text: str) -> list[CueSpec]:
    """A header line naming the columns (title is required), then one cue per line."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    unknown = [h for h in header if h not in COLUMNS]
    if "title" not in header or unknown:
        problem = (
            f"unknown columns {unknown}; known: {', '.join(COLUMNS)}"
            if unknown
            else f"the header must name the columns, title among them: {', '.join(COLUMNS)}"
        )
        raise _fail([{"line": 1, "field": "", "problem": problem}])
    specs: list[CueSpec] = []
    problems: list[dict[str, Any]] = []
    start = reader.line_num + 1
    for row in reader:
        line, start = start, reader.line_num + 1  # a quoted cell may span lines
        if len(specs) + len(problems) >= MAX_CUES:
            problems.append({"line": line, "field": "", "problem": f"at most {MAX_CUES} cues"})
            break
        item: dict[str, Any] = {
            k: v for k, v in row.items() if k in COLUMNS and v not in ("", None)
        }
        if None in row:
            problems.append({"line": line, "field": "", "problem": "more cells than columns"})
            continue
        if "actions" in item:
            try:
                item["actions"] = json.loads(item["actions"])
            except json.JSONDecodeError as exc:
                problems.append(
                    {"line": line, "field": "actions", "problem": f"not a JSON list: {exc.msg}"}
                )
                continue
        try:
            specs.append(CueSpec.model_validate(item))
        except ValidationError as exc:
            problems += _problems(exc, line)
    if problems:
        raise _fail(problems)
    return specs
