"""agentos report --html on real repositories, checked as text and in headless Chromium."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from kernel.cli import main
from kernel.report import MAX_DIFF_LINES, write_report
from tests.conftest import git
from tests.kernel.browser_helpers import dump_dom, parse_dom, png_pixels, screenshot
from tests.kernel.history_helpers import commit_fix

CALC = "def one():\n    return 1\n\n\ndef two():\n    return 2\n"
CALC_TWO_FIXED = "def one():\n    return 1\n\n\ndef two():\n    return 1 + 1\n"
CALC_BOTH_FIXED = "def one():\n    return 0 + 1\n\n\ndef two():\n    return 1 + 1\n"
UTIL = "import os\n\nVALUE = 3\n"
# A fixed line that would break out of <pre> and run a script if the page did not escape it.
HOSTILE = (
    'MARKUP = "</pre><script>document.documentElement'
    ".setAttribute('data-executed', 'yes')</script>\"\n"
)
PAGE = "MARKUP = None\n"


def at(monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    """Make the next commits carry ``when`` (ISO 8601) as author and committer date."""
    monkeypatch.setenv("GIT_AUTHOR_DATE", when)
    monkeypatch.setenv("GIT_COMMITTER_DATE", when)


def user_commit(root: Path, path: str, text: str, message: str) -> str:
    (root / path).write_text(text)
    git(root, "commit", "-q", "-am", message)
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture
def history(make_repo, monkeypatch) -> dict[str, str]:
    """Build four fixes over a week: kept, reverted, kept with a hostile diff, changed by hand.

    Returns the shas by role, and the repository root under "root".
    """
    root = make_repo({"calc.py": CALC, "util.py": UTIL, "page.py": PAGE})
    shas = {"root": str(root)}
    at(monkeypatch, "2025-01-02T10:00:00+00:00")
    shas["kept"] = commit_fix(root, "calc.py", CALC_TWO_FIXED, "aaaa00000001", tokens=120)
    at(monkeypatch, "2025-01-02T15:00:00+00:00")
    shas["reverted"] = commit_fix(root, "util.py", "VALUE = 3\n", "bbbb00000002")
    at(monkeypatch, "2025-01-04T09:00:00+00:00")
    git(root, "revert", "--no-edit", shas["reverted"])
    shas["revert"] = git(root, "rev-parse", "HEAD").strip()
    at(monkeypatch, "2025-01-05T12:00:00+00:00")
    shas["hostile"] = commit_fix(root, "page.py", HOSTILE, "cccc00000003")
    at(monkeypatch, "2025-01-07T08:30:00+00:00")
    shas["changed"] = commit_fix(root, "calc.py", CALC_BOTH_FIXED, "dddd00000004")
    at(monkeypatch, "2025-01-08T17:00:00+00:00")
    shas["edit"] = user_commit(root, "calc.py", CALC_BOTH_FIXED.replace("0 + 1", "1"), "tidy")
    monkeypatch.delenv("GIT_AUTHOR_DATE")
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    return shas


def commit_message_for(fault_id: str) -> str:
    """Return a fix message with the trailers the heal loop writes, for a commit made by git."""
    return (
        "fix: repair names.py\n\n"
        f"Agentos-Fault: {fault_id}\n"
        "Agentos-Provider: offline\n"
        "Agentos-Validation: 1 passed, 0 failed; target fixed\n"
        "Agentos-Heal: 20250102T030405Z-abc123\n"
    )


def report(target: Path, *arguments: str) -> int:
    return main(["report", "--html", str(target), *arguments])


def error_output(capsys) -> str:
    """Return standard error with rich's line wrapping undone."""
    return " ".join(capsys.readouterr().err.split())


def section(page: str, sha: str) -> str:
    start = page.index(f'id="fix-{sha[:12]}"')
    return page[start : page.index("</section>", start)]


# The page as text


def test_report_lists_fixes_newest_first(history, tmp_path):
    page_path = tmp_path / "report.html"

    assert report(page_path, history["root"]) == 0

    page = page_path.read_text()
    order = [history[role][:12] for role in ("changed", "hostile", "reverted", "kept")]
    rows = [page.index(f'id="row-{short}"') for short in order]
    assert rows == sorted(rows)
    # The hand edit and the revert commit are not fixes, so they get no row.
    assert page.count('<tr id="row-') == 4


def test_report_shows_each_state(history, tmp_path):
    page_path = tmp_path / "report.html"
    report(page_path, history["root"])
    page = page_path.read_text()

    assert "kept</span>" in section(page, history["kept"])
    reverted = section(page, history["reverted"])
    assert "reverted</span>" in reverted
    assert history["revert"][:12] in reverted
    changed = section(page, history["changed"])
    assert "changed by hand</span>" in changed
    assert history["edit"][:12] in changed


def test_report_fix_details(history, tmp_path):
    page_path = tmp_path / "report.html"
    report(page_path, history["root"])

    kept = section(page_path.read_text(), history["kept"])

    assert "aaaa00000001" in kept
    assert "<code>calc.py</code>" in kept
    assert "offline" in kept
    assert "2 passed, 0 failed; target fixed" in kept
    assert "120" in kept
    assert "2025-01-02 10:00" in kept
    assert '<span class="add">+    return 1 + 1</span>' in kept
    assert '<span class="del">-    return 2</span>' in kept


def test_report_escapes_hostile_diff(history, tmp_path):
    page_path = tmp_path / "report.html"
    report(page_path, history["root"])
    page = page_path.read_text()

    assert "<script" not in page
    assert "&lt;/pre&gt;&lt;script&gt;" in section(page, history["hostile"])


def test_report_chart_counts_states(history, tmp_path):
    page_path = tmp_path / "report.html"
    report(page_path, history["root"])
    page = page_path.read_text()

    assert page.count("<svg") == 1
    assert "Fixes per day (UTC), by state" in page
    assert "4 fixes from 2025-01-02 to 2025-01-07: 2 kept, 1 changed by hand, 1 reverted." in page
    assert "<title>2025-01-02: 1 kept</title>" in page
    assert "<title>2025-01-02: 1 reverted</title>" in page
    # Days without fixes get an empty slot, so six days make six x-axis labels.
    assert page.count('class="tick" text-anchor="end" transform') == 6


def test_report_filters_by_state(history, tmp_path):
    page_path = tmp_path / "report.html"

    assert report(page_path, history["root"], "--state", "reverted") == 0

    page = page_path.read_text()
    assert f'id="fix-{history["reverted"][:12]}"' in page
    assert f'id="fix-{history["kept"][:12]}"' not in page
    assert "state: reverted" in page


def test_report_filters_by_date(history, tmp_path):
    page_path = tmp_path / "report.html"

    report(page_path, history["root"], "--since", "2025-01-03", "--until", "2025-01-05")

    page = page_path.read_text()
    assert f'id="fix-{history["hostile"][:12]}"' in page
    assert page.count('class="fix"') == 1


def test_report_filters_by_path(history, tmp_path):
    page_path = tmp_path / "report.html"

    assert report(page_path, str(Path(history["root"]) / "calc.py")) == 0

    page = page_path.read_text()
    assert page.count('class="fix"') == 2
    assert f'id="fix-{history["hostile"][:12]}"' not in page
    assert "calc.py</li>" in page


def test_report_cuts_long_diff(make_repo, tmp_path):
    root = make_repo({"data.py": "VALUES = []\n"})
    long_text = "".join(f"VALUE_{number} = {number}\n" for number in range(MAX_DIFF_LINES + 50))
    commit_fix(root, "data.py", long_text, "eeee00000005")
    page_path = tmp_path / "report.html"

    report(page_path, str(root))

    page = page_path.read_text()
    assert "VALUE_0 = 0" in page
    assert f"VALUE_{MAX_DIFF_LINES + 49} =" not in page
    assert "more lines not shown; see them with git show." in page


def test_report_latin1_diff(make_repo, tmp_path):
    root = make_repo({"names.py": "NAME = 'x'\n"})
    (root / "names.py").write_bytes(b"NAME = '\xe9'\n")  # Latin-1, invalid as UTF-8
    message = commit_message_for("ffff00000006")
    git(root, "commit", "-q", "-a", "-m", message)
    page_path = tmp_path / "report.html"

    assert report(page_path, str(root)) == 0

    assert "+NAME = &#x27;\ufffd&#x27;" in page_path.read_text(encoding="utf-8")


def test_report_filtered_to_nothing(history, tmp_path):
    page_path = tmp_path / "report.html"

    assert report(page_path, history["root"], "--since", "2030-01-01") == 0

    page = page_path.read_text()
    assert "No matching fixes" in page
    assert "<svg" not in page


def test_report_without_fixes(make_repo, tmp_path):
    root = make_repo({"calc.py": CALC})
    page_path = tmp_path / "report.html"

    assert report(page_path, str(root)) == 0

    page = page_path.read_text()
    assert "No fixes yet" in page
    assert "agentos heal" in page
    assert "<table" not in page


# Errors


def test_report_outside_repository(tmp_path, capsys):
    page_path = tmp_path / "report.html"
    page_path.write_text("old report")
    folder = tmp_path / "plain"
    folder.mkdir()

    assert report(page_path, str(folder)) == 2

    assert "not inside a git repository" in error_output(capsys)
    assert page_path.read_text() == "old report"


def test_report_into_missing_folder(history, tmp_path, capsys):
    page_path = tmp_path / "missing" / "report.html"

    assert report(page_path, history["root"]) == 2

    assert "does not exist" in error_output(capsys)
    assert not page_path.parent.exists()


def test_report_under_a_file(history, tmp_path, capsys):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")

    assert report(blocker / "report.html", history["root"]) == 2

    assert "does not exist" in error_output(capsys)
    assert blocker.read_text() == "a file, not a folder"


def test_report_onto_a_folder(history, tmp_path, capsys):
    target = tmp_path / "out"
    target.mkdir()

    assert report(target, history["root"]) == 2

    assert "is a folder" in error_output(capsys)
    assert list(target.iterdir()) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out", "repo0"]


def test_report_replaces_old_file(history, tmp_path):
    page_path = tmp_path / "report.html"
    page_path.write_text("old report")
    page_path.chmod(0o640)

    assert report(page_path, history["root"]) == 0

    assert page_path.read_text().startswith("<!DOCTYPE html>")
    assert page_path.stat().st_mode & 0o777 == 0o640
    assert sorted(path.name for path in tmp_path.iterdir()) == ["repo0", "report.html"]


def test_failed_write_keeps_old_file(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old report")

    with pytest.raises(UnicodeEncodeError):
        write_report(target, "<p>\ud800</p>")  # a lone surrogate fails while writing

    assert target.read_text() == "old report"
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]


def test_report_leaves_repository_alone(history, tmp_path):
    root = Path(history["root"])
    (root / "calc.py").write_text("work in progress\n")
    before = (git(root, "status", "--porcelain"), git(root, "rev-parse", "HEAD"))

    report(tmp_path / "report.html", str(root))

    assert (git(root, "status", "--porcelain"), git(root, "rev-parse", "HEAD")) == before
    assert (root / "calc.py").read_text() == "work in progress\n"


# In the browser


def test_browser_renders_report(history, tmp_path, chromium):
    page_path = tmp_path / "report.html"
    report(page_path, history["root"])

    dom = parse_dom(dump_dom(chromium, page_path, tmp_path / "profile"))

    assert dom.tags.get("script", 0) == 0
    assert "data-executed" not in dom.root_attributes
    assert dom.tags.get("svg") == 1
    assert dom.tags.get("rect", 0) >= 4 + 3  # four bars' segments and three legend keys
    assert dom.row_ids[:4] == [
        f"row-{history[role][:12]}" for role in ("changed", "hostile", "reverted", "kept")
    ]
    hostile = next(text for text in dom.pre_texts if "MARKUP" in text)
    assert "</pre><script>document.documentElement" in hostile
    assert "changed by hand" in dom.text


def test_browser_links_resolve(history, tmp_path, chromium):
    page_path = tmp_path / "report.html"
    report(page_path, history["root"])

    dom = parse_dom(dump_dom(chromium, page_path, tmp_path / "profile"))

    fix_links = [href for href in dom.hrefs if href.startswith("#fix-")]
    assert len(fix_links) == 4
    assert dom.sources == []  # self-contained: nothing is loaded from elsewhere
    for href in dom.hrefs:
        address = urlparse(href)
        assert address.scheme in ("", "file"), f"{href} leaves the page"
        if href.startswith("#"):
            assert href[1:] in dom.ids, f"no element has the id that {href} names"
        else:
            linked = page_path.parent / unquote(address.path)
            assert linked.exists(), f"{href} names a missing file"


def test_browser_screenshot_not_blank(history, tmp_path, chromium):
    page_path = tmp_path / "report.html"
    report(page_path, history["root"])

    pixels = png_pixels(screenshot(chromium, page_path, tmp_path / "page.png", tmp_path / "p"))

    assert len(set(pixels)) > 50
    kept_green = sum(1 for pixel in pixels if _near(pixel, (0x2E, 0x7D, 0x32)))
    assert kept_green > 200, "the chart's kept bars are not on the screenshot"


def test_browser_renders_empty_page(make_repo, tmp_path, chromium):
    root = make_repo({"calc.py": CALC})
    page_path = tmp_path / "report.html"
    report(page_path, str(root))

    dom = parse_dom(dump_dom(chromium, page_path, tmp_path / "profile"))

    assert "No fixes yet" in dom.text
    assert all(href[1:] in dom.ids for href in dom.hrefs if href.startswith("#"))


def _near(pixel: tuple[int, ...], color: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 6 for a, b in zip(pixel[:3], color, strict=True))


def test_report_cost_of_offline_fix(history, tmp_path):
    page_path = tmp_path / "report.html"
    report(page_path, history["root"])
    page = page_path.read_text()

    offline = section(page, history["hostile"])
    model = section(page, history["kept"])

    assert "0, cost none" in offline
    assert "120, cost unknown" in model
    assert "cost unknown" in page.split('id="summary"')[1].split("</section>")[0]


def test_report_offline_fixes_cost_nothing(make_repo, tmp_path):
    root = make_repo({"calc.py": CALC})
    commit_fix(root, "calc.py", CALC_TWO_FIXED, "aaaa00000001")
    page_path = tmp_path / "report.html"

    assert report(page_path, str(root)) == 0

    page = page_path.read_text()
    summary = page.split('id="summary"')[1].split("</section>")[0]
    assert "no model cost" in summary
    assert "unknown" not in page
