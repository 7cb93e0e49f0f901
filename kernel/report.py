"""The HTML report of the tool's fixes: one self-contained file with a chart and each diff.

The page needs no network and no JavaScript, because the styles are inline and
the chart is inline SVG. Its Content-Security-Policy forbids scripts and every
outside resource, so a browser renders it the same from a file, a mail
attachment or a CI artifact. Every piece of text from git (subjects, paths, diffs) goes
through ``html.escape``, so a diff that contains ``<script>`` or ``</pre>``
shows as text.

Each fix has a section with the id ``fix-<first 12 hex digits of its sha>``;
the table row of the fix, ``row-<same>``, links to it and the section links
back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from kernel.errors import KernelError
from kernel.files import replace_file
from kernel.history import Fix
from kernel.report_chart import STATE_COLOR, STATE_LABEL, STATE_ORDER, bucket_fixes, render_chart

logger = logging.getLogger(__name__)

MAX_DIFF_LINES = 3000  # per fix, so one huge fix keeps the page quick to open

_SHORT = 12  # hex digits of a sha in ids and on the page, as `agentos history` prints them


@dataclass(frozen=True)
class ReportContext:
    """The repository state and filters that the page header shows."""

    repository: str  # path of the work tree
    head: str  # sha of HEAD
    branch: str | None  # None on a detached HEAD
    generated: datetime
    filters: tuple[str, ...] = ()  # one "name: value" per filter applied, empty for none


def fix_anchor(fix: Fix) -> str:
    """Return the id of the fix's section on the page."""
    return f"fix-{fix.commit[:_SHORT]}"


def render_report(fixes: Sequence[Fix], diffs: Mapping[str, str], context: ReportContext) -> str:
    """Return the page for ``fixes`` (newest first); ``diffs`` maps each commit sha to its patch."""
    body = [_header(context)]
    if fixes:
        body += [_summary(fixes), _chart_section(fixes), _table(fixes)]
        body += [_fix_section(fix, diffs.get(fix.commit, "")) for fix in fixes]
    else:
        body.append(_empty(context))
    body.append(
        "<footer><p>Written by <code>agentos report</code>. Each fix is a commit; "
        "<code>agentos show COMMIT</code> prints its fault, context and candidates.</p></footer>"
    )
    name = Path(context.repository).name or context.repository
    page = _PAGE.format(title=escape(f"agentos fixes: {name}"), style=_STYLE, body="\n".join(body))
    return _encodable(page)


def _encodable(text: str) -> str:
    """Replace what UTF-8 cannot encode with U+FFFD.

    Git output in another encoding (a Latin-1 file in a diff) reaches Python as
    lone surrogates, which a UTF-8 page cannot contain.
    """
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate outside the range surrogateescape produces
        return text.encode("utf-8", "replace").decode("utf-8")


def write_report(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` through a temporary file and a rename.

    A failure or an interrupt leaves ``target`` as it was (or absent) and no
    temporary file behind. Raises KernelError when the path cannot be written.
    """
    target = Path(target).expanduser()
    folder = target.parent
    if target.is_dir():
        example = target / "fixes.html"
        raise KernelError(f"{target} is a folder. Pass a file path such as {example}.")
    if not folder.is_dir():
        raise KernelError(
            f"cannot write the report to {target}: the folder {folder} does not exist. "
            "Create it or pass a file in an existing folder."
        )

    try:
        replace_file(target, text.encode("utf-8"))
    except OSError as error:
        raise KernelError(
            f"cannot write the report to {target}: {error.strerror or error}. "
            "Pass a path in a folder you can write to, with free space."
        ) from error
    logger.info("wrote the report to %s (%d bytes)", target, len(text.encode("utf-8")))


# Sections


def _header(context: ReportContext) -> str:
    where = f"<code>{escape(context.repository)}</code>"
    head = f"HEAD <code>{context.head[:_SHORT]}</code>"
    if context.branch:
        head += f" on <code>{escape(context.branch)}</code>"
    generated = context.generated.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    filters = ""
    if context.filters:
        items = "".join(f"<li>{escape(item)}</li>" for item in context.filters)
        filters = f'<div class="filters">Filters: <ul>{items}</ul></div>'
    return (
        '<header id="top"><h1>Fixes by agentos</h1>'
        f'<p class="meta">{where} · {head} · generated {generated}</p>{filters}</header>'
    )


def _empty(context: ReportContext) -> str:
    if context.filters:
        text = (
            "No fix by agentos matches these filters. Run <code>agentos report</code> "
            "without them to see every fix."
        )
        heading = "No matching fixes"
    else:
        text = (
            "agentos has not committed a fix in this repository yet. "
            "Run <code>agentos heal</code> to find faults and fix them."
        )
        heading = "No fixes yet"
    return f'<section id="empty" class="empty"><h2>{heading}</h2><p>{text}</p></section>'


def _summary(fixes: Sequence[Fix]) -> str:
    counts = ", ".join(
        f'<span class="state {state.value}">'
        f"{sum(1 for fix in fixes if fix.state is state)} {STATE_LABEL[state]}</span>"
        for state in STATE_ORDER
    )
    known_tokens = [fix.tokens for fix in fixes if fix.tokens is not None]
    tokens = f"{sum(known_tokens):,} tokens" if known_tokens else "tokens unknown"
    if len(known_tokens) < len(fixes) and known_tokens:
        tokens += f" (unknown for {len(fixes) - len(known_tokens)})"
    cost = _total_cost(fixes)
    noun = "fix" if len(fixes) == 1 else "fixes"
    return (
        f'<section id="summary"><p class="summary"><strong>{len(fixes)} {noun}</strong>: '
        f"{counts}. {tokens}, {cost}.</p></section>"
    )


def _chart_section(fixes: Sequence[Fix]) -> str:
    period, buckets = bucket_fixes(fixes)
    header = "".join(f"<th>{STATE_LABEL[state]}</th>" for state in STATE_ORDER)
    rows = "".join(
        f"<tr><td>{escape(bucket.label)}</td>"
        + "".join(f'<td class="number">{bucket.count(state)}</td>' for state in STATE_ORDER)
        + "</tr>"
        for bucket in buckets
        if bucket.total
    )
    return (
        '<section id="chart"><h2>Fixes over time</h2>'
        f"<figure>{render_chart(period, buckets)}</figure>"
        f"<details><summary>Chart data as a table</summary>"
        f'<table class="data"><thead><tr><th>{period.value} (UTC)</th>{header}</tr></thead>'
        f"<tbody>{rows}</tbody></table></details></section>"
    )


_COLUMNS = ("when (UTC)", "commit", "fault", "files", "provider", "validation", "tokens", "cost")


def _table(fixes: Sequence[Fix]) -> str:
    header = "".join(f"<th>{column}</th>" for column in (*_COLUMNS, "state"))
    rows = "\n".join(_row(fix) for fix in fixes)
    return (
        '<section id="fixes"><h2>Fixes, newest first</h2>'
        f'<div class="scroll"><table class="fixes"><thead><tr>{header}</tr></thead>'
        f"<tbody>\n{rows}\n</tbody></table></div></section>"
    )


def _row(fix: Fix) -> str:
    short = fix.commit[:_SHORT]
    cells = [
        f'<td class="nowrap">{_when(fix)}</td>',
        f'<td><a class="sha" href="#{fix_anchor(fix)}">{short}</a></td>',
        f"<td><code>{escape(fix.fault_id)}</code> {escape(fix.fault_summary or fix.subject)}</td>",
        f"<td>{_files(fix)}</td>",
        f"<td>{escape(_provider(fix))}</td>",
        f"<td>{escape(fix.validation)}</td>",
        f'<td class="number">{_tokens(fix)}</td>',
        f'<td class="number">{_cost(fix)}</td>',
        f"<td>{_state(fix)}</td>",
    ]
    return f'<tr id="row-{short}">{"".join(cells)}</tr>'


def _fix_section(fix: Fix, diff: str) -> str:
    short = fix.commit[:_SHORT]
    details = [
        ("commit", f"<code>{escape(fix.commit)}</code>"),
        ("committed", _when(fix)),
        ("state", _state(fix)),
        ("fault", f"<code>{escape(fix.fault_id)}</code> {escape(fix.fault_kind or '')}"),
        ("heal", f"<code>{escape(fix.heal_id)}</code>"),
        ("provider", escape(_provider(fix))),
        ("validation", escape(fix.validation)),
        ("tokens", f"{_tokens(fix)}, cost {_cost(fix)}"),
        ("files", _files(fix)),
    ]
    if fix.fault_summary:
        details.insert(4, ("summary", escape(fix.fault_summary)))
    items = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in details)
    return (
        f'<section id="{fix_anchor(fix)}" class="fix">'
        f"<h3><code>{short}</code> {escape(fix.subject)}</h3>"
        f"<dl>{items}</dl>{_diff(diff)}"
        f'<p class="back"><a href="#row-{short}">back to the list</a> · '
        '<a href="#top">top of the page</a></p></section>'
    )


# Cells


def _when(fix: Fix) -> str:
    return fix.committed.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")


def _files(fix: Fix) -> str:
    return "<br>".join(f"<code>{escape(name)}</code>" for name in fix.files) or "none"


def _provider(fix: Fix) -> str:
    return f"{fix.provider}/{fix.model}" if fix.model else fix.provider


def _tokens(fix: Fix) -> str:
    return "unknown" if fix.tokens is None else f"{fix.tokens:,}"


def _cost(fix: Fix) -> str:
    if fix.cost is not None:
        return f"${fix.cost:.4f}"
    # A fix that used no model tokens, such as an offline one, cost nothing.
    return "none" if fix.tokens == 0 else "unknown"


def _total_cost(fixes: Sequence[Fix]) -> str:
    priced = [fix.cost for fix in fixes if fix.cost is not None]
    free = sum(1 for fix in fixes if fix.cost is None and fix.tokens == 0)
    unknown = len(fixes) - len(priced) - free
    if not priced and not unknown:
        return "no model cost"
    if not priced:
        return "cost unknown"
    total = f"${sum(priced):.4f}"
    return f"{total} (unknown for {unknown})" if unknown else total


def _state(fix: Fix) -> str:
    label = STATE_LABEL[fix.state]
    by = f" by <code>{fix.state_commit[:_SHORT]}</code>" if fix.state_commit else ""
    return f'<span class="state {fix.state.value}">{label}</span>{by}'


def _diff(diff: str) -> str:
    if not diff.strip():
        return '<p class="note">The commit changes no file content (mode or empty commit).</p>'
    lines = diff.splitlines()
    omitted = len(lines) - MAX_DIFF_LINES
    rendered = "\n".join(_diff_line(line) for line in lines[:MAX_DIFF_LINES])
    note = ""
    if omitted > 0:
        note = f'<p class="note">{omitted} more lines not shown; see them with git show.</p>'
    return f'<pre class="diff">{rendered}</pre>{note}'


def _diff_line(line: str) -> str:
    if line.startswith(("diff --git", "index ", "new file", "deleted file", "similarity")):
        kind = "meta"
    elif line.startswith(("+++", "---")):
        kind = "file"
    elif line.startswith("@@"):
        kind = "hunk"
    elif line.startswith("+"):
        kind = "add"
    elif line.startswith("-"):
        kind = "del"
    else:
        return escape(line)
    return f'<span class="{kind}">{escape(line)}</span>'


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""

_STATE_CSS = "".join(
    f".state.{state.value}{{background:{STATE_COLOR[state]}}}" for state in STATE_ORDER
)

_STYLE = (
    """
body{margin:0;background:#f6f7f9;color:#1d2330;
  font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:19px;margin:32px 0 12px}
h3{font-size:16px;margin:0 0 10px}
code,pre{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:13px}
a{color:#0b57d0}
.meta{color:#5a6270;margin:0}
.filters{margin-top:8px}.filters ul{display:inline;padding:0;margin:0}
.filters li{display:inline;margin-right:10px;background:#e6e9ef;border-radius:4px;padding:1px 6px}
.summary{font-size:16px}
.state{display:inline-block;color:#fff;border-radius:10px;padding:0 9px;font-size:13px;
  white-space:nowrap}
figure{margin:0;background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:12px}
.chart{width:100%;height:auto;display:block}
.chart text{font-size:12px;fill:#3b4250}
.chart .axis-title{font-size:13px;fill:#1d2330}
.chart .legend{font-size:13px}
.chart .grid{stroke:#e3e6eb}.chart .axis{stroke:#7d8594}
details{margin-top:8px}summary{cursor:pointer;color:#0b57d0}
table{border-collapse:collapse;background:#fff}
th,td{border-bottom:1px solid #e3e6eb;padding:6px 10px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600;font-size:13px;white-space:nowrap}
.scroll{overflow-x:auto;border:1px solid #dde1e7;border-radius:8px}
table.fixes{width:100%}table.fixes td{font-size:14px}
table.fixes tbody tr:nth-child(even){background:#fafbfc}
table.data{margin-top:8px;border:1px solid #dde1e7}
.number{text-align:right;white-space:nowrap}.nowrap{white-space:nowrap}
.sha{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:13px}
.fix{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:16px 18px;
  margin:18px 0}
.fix:target{border-color:#0b57d0;box-shadow:0 0 0 2px #c7d8f8}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0 0 12px}
dt{color:#5a6270}dd{margin:0}
pre.diff{background:#fbfbfc;border:1px solid #e3e6eb;border-radius:6px;padding:10px 12px;
  overflow-x:auto;line-height:1.45;margin:0}
.diff .add{color:#1a7f37;background:#e6ffec;display:inline-block;min-width:100%}
.diff .del{color:#b42318;background:#ffebe9;display:inline-block;min-width:100%}
.diff .hunk{color:#6639ba}.diff .file{font-weight:600}.diff .meta{color:#7d8594}
.back{margin:10px 0 0;font-size:14px}
.note{color:#5a6270;font-size:14px}
.empty{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:24px;margin-top:24px}
.empty h2{margin-top:0}
footer{margin-top:36px;color:#5a6270;font-size:13px}
"""
    + _STATE_CSS
)
