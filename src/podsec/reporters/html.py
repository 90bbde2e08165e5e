"""One self-contained HTML page (no network at view time): counts, charts, a sortable and
filterable findings table, and per-object detail with the effective security context."""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any, TextIO

from podsec.findings import Finding, Summary
from podsec.reporters.base import SEVERITY_ORDER, Collected, RunInfo, object_label, relative

_COLORS = {
    "error": "#7b1fa2",
    "critical": "#b71c1c",
    "high": "#e53935",
    "medium": "#fb8c00",
    "low": "#1e88e5",
    "info": "#78909c",
}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1c2733;background:#f5f7fa}
header{background:#1c2733;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#b8c4d0}main{padding:20px 28px;max-width:1400px}
.cards{display:flex;gap:14px;flex-wrap:wrap;margin-bottom:18px}
.card{background:#fff;border-radius:8px;padding:12px 18px;box-shadow:0 1px 3px #0002;min-width:120px}
.card b{display:block;font-size:26px}.card span{color:#5b6b7b}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:14px;margin-bottom:18px}
.chart{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px #0002}
.chart h2,section h2{font-size:15px;margin:0 0 8px}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 3px #0002}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e3e8ee;vertical-align:top}
th{background:#eef2f6;cursor:pointer;user-select:none;white-space:nowrap}th.sorted-asc::after{content:" \\25B2"}
th.sorted-desc::after{content:" \\25BC"}code{font-size:12px;background:#eef2f6;padding:1px 4px;border-radius:3px}
.sev{display:inline-block;color:#fff;border-radius:3px;padding:0 6px;font-size:12px}
.filters{display:flex;gap:10px;margin:8px 0 10px;flex-wrap:wrap}
.filters input,.filters select{padding:5px 8px;border:1px solid #c5d0db;border-radius:4px}
details{background:#fff;margin:6px 0;border-radius:6px;box-shadow:0 1px 3px #0002;padding:6px 12px}
td.loc{word-break:break-all;min-width:160px}summary{cursor:pointer;font-weight:600}.muted{color:#6b7b8b}.src-unset{color:#8a97a5}
.errors li{margin:3px 0}section{margin-bottom:22px}
"""

_JS = """
(function () {
  var table = document.getElementById('findings');
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var text = document.getElementById('filter-text');
  var sev = document.getElementById('filter-severity');
  var shown = document.getElementById('shown-count');
  function apply() {
    var q = text.value.toLowerCase(), s = sev.value, n = 0;
    rows.forEach(function (r) {
      var ok = (!q || r.textContent.toLowerCase().indexOf(q) >= 0) && (!s || r.getAttribute('data-severity') === s);
      r.style.display = ok ? '' : 'none';
      if (ok) { n += 1; }
    });
    shown.textContent = String(n);
  }
  text.addEventListener('input', apply);
  sev.addEventListener('change', apply);
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
    th.addEventListener('click', function () {
      var asc = !th.classList.contains('sorted-asc');
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.className = ''; });
      th.className = asc ? 'sorted-asc' : 'sorted-desc';
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute('data-key') || a.cells[col].textContent;
        var y = b.cells[col].getAttribute('data-key') || b.cells[col].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var cmp = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return asc ? cmp : -cmp;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  apply();
})();
"""


def _bars(title: str, counts: Iterable[tuple[str, int]], colors: Mapping[str, str] | None = None) -> str:
    items = list(counts)[:10]
    if not items:
        return f'<div class="chart"><h2>{escape(title)}</h2><p class="muted">none</p></div>'
    top = max(n for _, n in items) or 1
    row_h, label_w, width = 24, 170, 400
    height = row_h * len(items) + 4
    parts = [f'<svg role="img" aria-label="{escape(title)}" width="100%" viewBox="0 0 {width} {height}">']
    for i, (label, n) in enumerate(items):
        y = i * row_h + 2
        bar = max(2, int((width - label_w - 50) * n / top))
        color = (colors or {}).get(label, "#3f6fb5")
        short = label if len(label) <= 24 else "\u2026" + label[-23:]
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" font-size="13">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{bar}" height="17" fill="{color}" rx="2">'
            f"<title>{escape(label)}: {n}</title></rect>"
            f'<text x="{label_w + bar + 6}" y="{y + 16}" font-size="13">{n}</text>'
        )
    parts.append("</svg>")
    return f'<div class="chart"><h2>{escape(title)}</h2>{"".join(parts)}</div>'


def _sev(severity: str) -> str:
    return f'<span class="sev" style="background:{_COLORS.get(severity, "#555")}">{escape(severity)}</span>'


def _value(value: Any) -> str:
    import json

    return "" if value is None else escape(json.dumps(value, ensure_ascii=False))


def _fields_table(rows: list[Mapping[str, Any]], owner: str) -> str:
    out = ["<table><thead><tr><th>field</th><th>value</th><th>source</th></tr></thead><tbody>"]
    for r in rows:
        if r["source"] == "unset":
            src = f'<span class="src-unset">unset \u2014 {escape(r.get("note") or "")}</span>'
        else:
            at = f", line {r['line']}" if r.get("line") else ""
            src = escape(("inherited from pod" if r["source"] == "pod" and owner == "container" else r["source"]) + at)
        out.append(f"<tr><td><code>{escape(r['field'])}</code></td><td>{_value(r['value'])}</td><td>{src}</td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


class HtmlReporter:
    def __init__(self, out: TextIO, run: RunInfo) -> None:
        self._out, self._run = out, run
        self._seen = Collected()

    def file(self, result: Any) -> None:
        self._seen.add(result)

    def _row(self, f: Finding) -> str:
        file = relative(f.file, self._run.base_dir) or "-"
        where = f"{file}:{f.line}" + (f":{f.column}" if f.column else "") if f.line else file
        rank = SEVERITY_ORDER.index(f.severity) if f.severity in SEVERITY_ORDER else 9
        return (
            f'<tr data-severity="{escape(f.severity)}">'
            f'<td data-key="{rank}">{_sev(f.severity)}</td>'
            f"<td><code>{escape(f.check)}</code></td>"
            f"<td>{escape(object_label(f))}</td>"
            f"<td>{escape(f.container or '')}</td>"
            f"<td>{escape(f.message)}<br><code>{escape(f.field)}</code></td>"
            f"<td>{escape(where)}"
            + (f"<br><span class='muted'>{escape(f.template)}</span>" if f.template else "")
            + "</td></tr>"
        )

    def finish(self, summary: Summary) -> None:
        seen = self._seen
        findings = [f for obj in seen.objects for f in obj.findings]
        by_sev = Counter(f.severity for f in findings)
        by_check = Counter(f.check for f in findings).most_common()
        by_ns = Counter(f.object.namespace or "(none)" for f in findings).most_common()
        by_file = Counter(relative(f.file, self._run.base_dir) or "-" for f in findings).most_common()
        when = datetime.datetime.fromtimestamp(self._run.started or 0, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        cards = [
            ("count-findings", summary.findings, "findings"),
            ("count-objects", summary.objects, "workloads"),
            ("count-files", summary.files, "files"),
            ("count-errors", summary.errors, "input errors"),
            ("count-suppressed", summary.suppressed, "suppressed"),
        ]
        html = [
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            f"<title>podsec report \u2014 {summary.findings} findings</title><style>{_CSS}</style></head><body>",
            f"<header><h1>podsec report</h1><p>profile {escape(self._run.profile)}, evaluated as "
            f"{escape(self._run.evaluated)} \u00b7 {escape(when)} \u00b7 "
            f"podsec {escape(self._run.tool_version)}</p></header>",
            "<main><div class='cards'>",
            *(f"<div class='card'><b id='{i}'>{n}</b><span>{label}</span></div>" for i, n, label in cards),
            "</div><div class='charts'>",
            _bars("Findings by severity", [(s, by_sev[s]) for s in SEVERITY_ORDER if by_sev[s]], _COLORS),
            _bars("Findings by check", by_check),
            _bars("Findings by namespace", by_ns),
            _bars("Findings by file", by_file),
            "</div>",
        ]
        if seen.errors:
            html.append("<section><h2>Input errors</h2><ul class='errors'>")
            html += [f"<li>{escape(str(e))}</li>" for e in seen.errors]
            html.append("</ul></section>")
        html += [
            "<section><h2>Findings (<span id='shown-count'>0</span> shown)</h2><div class='filters'>",
            "<input id='filter-text' type='search' placeholder='filter: check, object, message, file\u2026' size='40'>",
            "<select id='filter-severity'><option value=''>all severities</option>",
            *(f"<option value='{s}'>{s}</option>" for s in SEVERITY_ORDER),
            "</select></div><table id='findings'><thead><tr><th>severity</th><th>check</th><th>object</th>"
            "<th>container</th><th>message / field</th><th>location</th></tr></thead><tbody>",
            *(self._row(f) for f in findings),
            "</tbody></table></section><section><h2>Workloads</h2>",
        ]
        for obj in seen.objects:
            file = relative(obj.file, self._run.base_dir) or "-"
            count = len(obj.findings)
            html.append(
                f"<details><summary>{escape(object_label(obj))} \u2014 {count} finding{'s' if count != 1 else ''}"
                f" <span class='muted'>{escape(file)}{':' + str(obj.line) if obj.line else ''}</span></summary>"
            )
            for pod in (obj.details or {}).get("pods", []):
                label = f" {escape(pod['pod'])}" if pod.get("pod") else ""
                html.append(f"<h3>pod{label}</h3>{_fields_table(pod['fields'], 'pod')}")
                for c in pod["containers"]:
                    html.append(
                        f"<h3>{escape(c['kind'])}: {escape(c['name'])}</h3>{_fields_table(c['fields'], 'container')}"
                    )
            html.append("</details>")
        html.append(f"</section></main><script>{_JS}</script></body></html>\n")
        self._out.write("".join(html))
