"""One self-contained HTML page (no network at view time): counts, charts, a sortable and
filterable findings table, and per-object detail with the effective security context."""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable, Mapping
from html import escape as _html_escape
from typing import Any

from podsec.findings import Finding, InputError, ObjectResult, Summary
from podsec.model.paths import format_path
from podsec.reporters.base import SEVERITY_ORDER, Collecting, object_label, relative, severity_rank
from podsec.textsafe import json_dumps, printable

_COLORS = {
    "error": "#7b1fa2",
    "critical": "#b71c1c",
    "high": "#e53935",
    "medium": "#fb8c00",
    "low": "#1e88e5",
    "info": "#78909c",
}

_SEV_CSS = "".join(f".sev-{name}{{background:{color}}}" for name, color in _COLORS.items())

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1c2733;background:#f5f7fa}
header{background:#1c2733;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#b8c4d0}main{padding:20px 28px;max-width:1600px}
.cards{display:flex;gap:14px;flex-wrap:wrap;margin-bottom:18px}
.card{background:#fff;border-radius:8px;padding:12px 18px;box-shadow:0 1px 3px #0002;min-width:120px}
.card b{display:block;font-size:26px}.card span{color:#5b6b7b}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:14px;margin-bottom:18px}
.chart{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px #0002}
.chart h2,section h2{font-size:15px;margin:0 0 8px}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 3px #0002}
#findings{table-layout:fixed}#findings td{overflow-wrap:anywhere}
#findings col.c-sev{width:88px}#findings col.c-check{width:15%}#findings col.c-obj{width:16%}
#findings col.c-cont{width:9%}#findings col.c-loc{width:19%}
button#show-more{margin:10px 0;padding:6px 14px;border:1px solid #c5d0db;border-radius:4px;background:#fff}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e3e8ee;vertical-align:top}
th{background:#eef2f6;cursor:pointer;user-select:none;white-space:nowrap}th.sorted-asc::after{content:" \\25B2"}
th.sorted-desc::after{content:" \\25BC"}code{font-size:12px;background:#eef2f6;padding:1px 4px;border-radius:3px}
.sev{display:inline-block;color:#fff;border-radius:3px;padding:0 6px;font-size:12px}
.filters{display:flex;gap:10px;margin:8px 0 10px;flex-wrap:wrap}
.filters input,.filters select{padding:5px 8px;border:1px solid #c5d0db;border-radius:4px}
details{background:#fff;margin:6px 0;border-radius:6px;box-shadow:0 1px 3px #0002;padding:6px 12px}
td.loc{word-break:break-all}summary{cursor:pointer;font-weight:600}.muted{color:#6b7b8b}.src-unset{color:#8a97a5}
.errors li{margin:3px 0}section{margin-bottom:22px}
"""

_JS = r"""
(function () {
  var data = JSON.parse(document.getElementById('podsec-data').textContent), S = data.strings;
  var cols = ['rank', 'check', 'object', 'container', 'message', 'where'];
  var rows = data.findings.map(function (a, i) {
    var f = {order: i, rank: a[0], severity: S[a[1]], check: S[a[2]], object: S[a[3]], container: S[a[4]],
             message: S[a[5]], field: S[a[6]], where: S[a[7]], template: S[a[8]]};
    return {f: f, text: (f.check + ' ' + f.object + ' ' + f.container + ' ' + f.message + ' ' + f.field + ' ' +
                         f.where + ' ' + f.template).toLowerCase()};
  });
  var table = document.getElementById('findings'), body = table.tBodies[0];
  var text = document.getElementById('filter-text'), sev = document.getElementById('filter-severity');
  var shown = document.getElementById('shown-count'), more = document.getElementById('show-more');
  var PAGE = 250, limit = PAGE, matching = rows;
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }
  function row(f) {
    return '<tr data-severity="' + esc(f.severity) + '"><td><span class="sev sev-' + esc(f.severity) + '">' +
      esc(f.severity) + '</span></td><td><code>' + esc(f.check) + '</code></td><td>' + esc(f.object) +
      '</td><td>' + esc(f.container) + '</td><td>' + esc(f.message) + '<br><code>' + esc(f.field) +
      '</code></td><td class="loc">' + esc(f.where) +
      (f.template ? '<br><span class="muted">' + esc(f.template) + '</span>' : '') + '</td></tr>';
  }
  function render() {
    var html = [];
    for (var i = 0; i < matching.length && i < limit; i++) { html.push(row(matching[i].f)); }
    body.innerHTML = html.join('');
    shown.textContent = String(matching.length);
    var left = matching.length - Math.min(limit, matching.length);
    more.style.display = left > 0 ? '' : 'none';
    more.textContent = 'show ' + Math.min(PAGE, left) + ' more (' + left + ' not shown)';
  }
  function apply() {
    var q = text.value.toLowerCase(), s = sev.value;
    matching = rows.filter(function (r) {
      return (!q || r.text.indexOf(q) >= 0) && (!s || r.f.severity === s);
    });
    limit = PAGE;
    render();
  }
  text.addEventListener('input', apply);
  sev.addEventListener('change', apply);
  more.addEventListener('click', function () { limit += PAGE; render(); });
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
    th.addEventListener('click', function () {
      var asc = !th.classList.contains('sorted-asc');
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.className = ''; });
      th.className = asc ? 'sorted-asc' : 'sorted-desc';
      var key = cols[col];
      function cmp(a, b) {
        var x = a.f[key], y = b.f[key];
        var c = (typeof x === 'number') ? x - y : String(x).localeCompare(String(y));
        return c || a.f.order - b.f.order;
      }
      rows.sort(function (a, b) { return asc ? cmp(a, b) : -cmp(a, b); });
      apply();
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll('details[data-object]'), function (d) {
    d.querySelector('summary').addEventListener('click', function () {
      var slot = d.querySelector('.detail');
      if (slot.childNodes.length) { return; }
      var pods = data.objects[Number(d.getAttribute('data-object'))] || [];
      var html = [];
      pods.forEach(function (pod) {
        html.push('<h3>pod' + (pod.pod ? ' ' + esc(pod.pod) : '') + '</h3>' + fields(pod.fields, 'pod'));
        pod.containers.forEach(function (c) {
          html.push('<h3>' + esc(S[c.kind]) + ': ' + esc(c.name) + '</h3>' + fields(c.fields, 'container'));
        });
      });
      slot.innerHTML = html.join('') || '<p class="muted">no pod</p>';
    });
  });
  function fields(list, owner) {
    var out = ['<table class="ctx"><thead><tr><th>field</th><th>value</th><th>source</th></tr></thead><tbody>'];
    list.forEach(function (a) {
      var r = {field: S[a[0]], value: a[1], source: ['unset', 'pod', 'container'][a[2]], line: a[3], note: S[a[4]]};
      var src;
      if (r.source === 'unset') {
        src = '<span class="src-unset">unset — ' + esc(r.note || '') + '</span>';
      } else {
        src = esc((r.source === 'pod' && owner === 'container' ? 'inherited from pod' : r.source) +
                  (r.line ? ', line ' + r.line : ''));
      }
      var value = r.value === null || r.value === undefined ? '' : esc(JSON.stringify(r.value));
      out.push('<tr><td><code>' + esc(r.field) + '</code></td><td>' + value + '</td><td>' + src + '</td></tr>');
    });
    out.push('</tbody></table>');
    return out.join('');
  }
  render();
})();
"""


def escape(text: str) -> str:
    """HTML-escaped, with control characters shown as escapes (never raw in the page)."""
    return _html_escape(printable(text))


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


class _Strings:
    """A table of the strings a report repeats (checks, messages, notes), referred to by index."""

    def __init__(self) -> None:
        self.table: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, text: str | None) -> int:
        text = printable(text or "")
        found = self._index.get(text)
        if found is None:
            found = self._index[text] = len(self.table)
            self.table.append(text)
        return found


_SOURCES = {"unset": 0, "pod": 1, "container": 2}


def _fields(rows: Iterable[Mapping[str, Any]], strings: _Strings) -> list[list[Any]]:
    return [
        [strings(r["field"]), r["value"], _SOURCES.get(r["source"], 0), r.get("line"), strings(r.get("note"))]
        for r in rows
    ]


def _pod(pod: Mapping[str, Any], strings: _Strings) -> dict[str, Any]:
    containers = [
        {"kind": strings(c["kind"]), "name": printable(c["name"]), "fields": _fields(c["fields"], strings)}
        for c in pod["containers"]
    ]
    return {"pod": pod.get("pod"), "fields": _fields(pod["fields"], strings), "containers": containers}


class HtmlReporter(Collecting):
    def _entry(self, f: Finding, strings: _Strings) -> list[int]:
        file = relative(f.file, self._run.base_dir) or "-"
        where = f"{file}:{f.line}" + (f":{f.column}" if f.column else "") if f.line else file
        texts = (
            str(f.severity),
            f.check.id,
            object_label(f),
            f.container or "",
            f.message,
            format_path(f.field),
            where,
            f.template or "",
        )
        return [severity_rank(f.severity), *(strings(t) for t in texts)]

    def finish(self, summary: Summary) -> None:
        seen = self._seen
        findings = sorted(
            (f for obj in seen.objects for f in obj.findings),
            key=lambda f: (severity_rank(f.severity), relative(f.file, self._run.base_dir) or "", f.line or 0),
        )  # the most severe first
        html = [*self._header(summary), *self._charts(findings), *_errors(seen.errors)]
        strings = _Strings()
        entries = [self._entry(f, strings) for f in findings]
        pods = [[_pod(p, strings) for p in (obj.details or {}).get("pods", [])] for obj in seen.objects]
        data = {"strings": strings.table, "findings": entries, "objects": pods}
        html += [*_FINDINGS_TABLE, *(self._workload(i, obj) for i, obj in enumerate(seen.objects))]
        payload = json_dumps(data, separators=(",", ":")).replace("</", "<\\/")
        html.append(
            f"</section></main><script type='application/json' id='podsec-data'>{payload}</script>"
            f"<script>{_JS}</script></body></html>\n"
        )
        self._out.write("".join(html))

    def _header(self, summary: Summary) -> list[str]:
        """The page's head, title and count cards."""
        when = datetime.datetime.fromtimestamp(self._run.started or 0, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        cards = [
            ("count-findings", summary.findings, "findings"),
            ("count-objects", summary.objects, "workloads"),
            ("count-files", summary.files, "files"),
            ("count-errors", summary.errors, "input errors"),
            ("count-suppressed", summary.suppressed, "suppressed"),
        ]
        return [
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            f"<title>podsec report \u2014 {summary.findings} findings</title>",
            f"<style>{_CSS}{_SEV_CSS}</style></head><body>",
            f"<header><h1>podsec report</h1><p>profile {escape(self._run.profile)}, evaluated as "
            f"{escape(self._run.evaluated)} \u00b7 {escape(when)} \u00b7 "
            f"podsec {escape(self._run.tool_version)}</p></header>",
            "<main><div class='cards'>",
            *(f"<div class='card'><b id='{i}'>{n}</b><span>{label}</span></div>" for i, n, label in cards),
        ]

    def _charts(self, findings: list[Finding]) -> list[str]:
        """Bar charts of the findings by severity, check, namespace and file."""
        by_sev = Counter(str(f.severity) for f in findings)
        by_check = Counter(f.check.id for f in findings).most_common()
        by_ns = Counter(f.object.namespace or "(none)" for f in findings).most_common()
        by_file = Counter(relative(f.file, self._run.base_dir) or "-" for f in findings).most_common()
        return [
            "</div><div class='charts'>",
            _bars("Findings by severity", [(s, by_sev[s]) for s in SEVERITY_ORDER if by_sev[s]], _COLORS),
            _bars("Findings by check", by_check),
            _bars("Findings by namespace", by_ns),
            _bars("Findings by file", by_file),
            "</div>",
        ]

    def _workload(self, i: int, obj: ObjectResult) -> str:
        """An object's summary line; its detail is drawn from the page's data when opened."""
        file = relative(obj.file, self._run.base_dir) or "-"
        count = len(obj.findings)
        return (
            f"<details data-object='{i}'><summary>{escape(object_label(obj))} \u2014 {count} "
            f"finding{'s' if count != 1 else ''} <span class='muted'>{escape(file)}"
            f"{':' + str(obj.line) if obj.line else ''}</span></summary><div class='detail'></div></details>"
        )


def _errors(errors: list[InputError]) -> list[str]:
    if not errors:
        return []
    return [
        "<section><h2>Input errors</h2><ul class='errors'>",
        *(f"<li>{escape(str(e))}</li>" for e in errors),
        "</ul></section>",
    ]


_FINDINGS_TABLE = [
    "<section><h2>Findings (<span id='shown-count'>0</span> shown)</h2><div class='filters'>",
    "<input id='filter-text' type='search' placeholder='filter: check, object, message, file\u2026' size='40'>",
    "<select id='filter-severity'><option value=''>all severities</option>",
    *(f"<option value='{s}'>{s}</option>" for s in SEVERITY_ORDER),
    "</select></div><table id='findings'><colgroup><col class='c-sev'><col class='c-check'>"
    "<col class='c-obj'><col class='c-cont'><col class='c-msg'><col class='c-loc'></colgroup>"
    "<thead><tr><th class='sorted-asc'>severity</th><th>check</th><th>object</th>"
    "<th>container</th><th>message / field</th><th>location</th></tr></thead><tbody></tbody></table>",
    "<button id='show-more' type='button'>show more</button></section><section><h2>Workloads</h2>",
]
"""The findings table (filled in by the page's script) and the start of the workloads' section."""
