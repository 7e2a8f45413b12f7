"""Targets and the human-readable summary of a Live-10 result."""

from __future__ import annotations

from typing import Any

TARGETS = {
    "p99_latency_ms": ("latency_ms.p99", "<=", 50.0),
    "gaps": ("gaps", "==", 0),
    "rss_kib_per_idle_console": ("rss_kib_per_idle_console", "<=", 32.0),
    "ratio_deliveries_per_cpu": ("ratio_deliveries_per_cpu", ">=", 10.0),
    "triage_visible_p99_ms": ("triage_visible_ms.p99", "<=", 100.0),
}


def _get(result: dict[str, Any], path: str) -> Any:
    value: Any = result
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def evaluate_targets(result: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (path, op, bound) in TARGETS.items():
        value = _get(result, path)
        if value is None:
            passed = False
        elif op == "<=":
            passed = value <= bound
        elif op == ">=":
            passed = value >= bound
        else:
            passed = value == bound
        out[name] = {"target": f"{op} {bound}", "measured": value, "pass": passed}
    return out


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary_table(r: dict[str, Any]) -> str:
    cfg = r["config"]
    naive = r.get("naive") or {}
    lat, e2e = r.get("latency_ms") or {}, r.get("e2e_latency_ms") or {}
    nlat = naive.get("latency_ms") or {}
    rows: list[tuple[str, str, str]] = [
        ("", "ours", "naive"),
        (
            "offered envelopes/s",
            _fmt(r.get("offered_msgs_per_s"), 0),
            _fmt(naive.get("offered_msgs_per_s"), 0),
        ),
        (
            "ingest (acked by pipeline)/s",
            _fmt(r.get("ingest_msgs_per_s"), 0),
            _fmt(naive.get("ingest_msgs_per_s"), 0),
        ),
        ("  chat rows persisted/s", _fmt(r.get("chat_rows_per_s"), 0), ""),
        ("  ingest backlog at end", _fmt(r.get("ingest_backlog_end")), ""),
        (
            "deliveries/s (items to consoles)",
            _fmt(r.get("deliveries_per_s"), 0),
            _fmt(naive.get("deliveries_per_s"), 0),
        ),
        (
            "frames/s to consoles",
            _fmt(r.get("frames_per_s"), 0),
            _fmt(naive.get("frames_per_s"), 0),
        ),
        (
            "publish->console p50/p99/p999 ms",
            "/".join(_fmt(lat.get(k)) for k in ("p50", "p99", "p999")),
            "/".join(_fmt(nlat.get(k)) for k in ("p50", "p99", "p999")),
        ),
        (
            "  of which at -> on live stream",
            "/".join(
                _fmt((r.get("publish_to_live_stream_ms") or {}).get(k))
                for k in ("p50", "p99", "p999")
            ),
            "",
        ),
        (
            "ingest->console p50/p99/p999 ms",
            "/".join(_fmt(e2e.get(k)) for k in ("p50", "p99", "p999")),
            "/".join(
                _fmt((naive.get("e2e_latency_ms") or {}).get(k)) for k in ("p50", "p99", "p999")
            ),
        ),
        (
            "gaps / duplicates / resyncs",
            f"{_fmt(r.get('gaps'))} / {_fmt(r.get('duplicates'))} / {_fmt(r.get('resyncs'))}",
            f"{_fmt(naive.get('gaps'))} / {_fmt(naive.get('duplicates'))} / -",
        ),
        (
            "server CPU ms per 1k deliveries",
            _fmt(r.get("cpu_ms_per_1k_deliveries"), 2),
            _fmt(naive.get("cpu_ms_per_1k_deliveries"), 2),
        ),
        (
            "  fan-out process only",
            _fmt(r.get("fanout_cpu_ms_per_1k_deliveries"), 2),
            _fmt(naive.get("fanout_cpu_ms_per_1k_deliveries"), 2),
        ),
        (
            "consoles behind live at end (items)",
            _fmt((r.get("console_lag_at_end") or {}).get("items_behind_furthest_console")),
            _fmt(naive.get("reader_lag_items")),
        ),
        (
            "triage action->consoles p50/p99/p999 ms",
            "/".join(
                _fmt((r.get("triage_visible_ms") or {}).get(k)) for k in ("p50", "p99", "p999")
            ),
            "",
        ),
        (
            "  actions / console x action missing",
            f"{_fmt(r.get('triage_actions'))} / {_fmt(r.get('triage_missing'))}",
            "",
        ),
        ("RSS KiB per idle console", _fmt(r.get("rss_kib_per_idle_console"), 1), ""),
        (
            "deliveries per CPU-s ratio (serve vs peer)",
            _fmt(r.get("ratio_deliveries_per_cpu"), 1),
            "",
        ),
        (
            "  with the shared pipeline's CPU on both sides",
            _fmt(r.get("ratio_deliveries_per_cpu_with_pipeline"), 1),
            "",
        ),
    ]
    w0 = max(len(a) for a, _, _ in rows)
    w1 = max(len(b) for _, b, _ in rows)
    lines = [
        f"Live-{cfg['events']}: {cfg['events']} events x {cfg['consoles_per_event']} consoles, "
        f"{cfg['rate_per_event']:,.0f} env/s/event offered, window {cfg['window_s']} s "
        f"(naive {cfg['naive_window_s']} s), {cfg['workers']} worker(s), 1 serve",
        "",
    ]
    lines += [f"  {a:<{w0}}  {b:>{w1}}  {c}" for a, b, c in rows]
    cpu = r.get("cpu_cores") or {}
    if cpu:
        lines += [
            "",
            "  CPU cores used in the window (ours): "
            + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items() if isinstance(v, float)),
        ]
    ncpu = naive.get("cpu_cores") or {}
    if ncpu:
        lines += [
            "  CPU cores used in the window (naive): "
            + ", ".join(f"{k} {v:.2f}" for k, v in ncpu.items() if isinstance(v, float))
        ]
    lines += ["", "  targets:"]
    for name, t in r["targets"].items():
        mark = "PASS" if t["pass"] else "FAIL"
        lines.append(f"    {mark}  {name:<26} {t['target']:<10} measured {_fmt(t['measured'], 2)}")
    return "\n".join(lines)
