"""The README is a short front page, every relative Markdown link in it and in docs/ resolves, and CI runs the
README's test command."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 300

_FENCED_CODE = re.compile(r"^(`{3,}|~{3,}).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`]*`")
_LINK_TARGET = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_URL_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _markdown_files():
    return [README, *sorted(DOCS.glob("*.md"))]


def _without_code(text):
    """`text` without fenced code blocks and inline code spans, whose brackets and `#` lines are not Markdown."""
    return _INLINE_CODE.sub("", _FENCED_CODE.sub("", text))


def _heading_anchors(path):
    """The anchors GitHub gives the headings of the Markdown file `path`.

    A heading's anchor is its text in lower case, with punctuation removed and spaces turned into hyphens; a
    repeated anchor gets `-1`, `-2`, ... appended.
    """
    anchors, seen = set(), {}
    for heading in _HEADING.findall(_FENCED_CODE.sub("", path.read_text())):
        heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading counts by its text
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def broken_relative_links(path):
    """Every relative link of the Markdown file `path` whose file, or heading anchor, does not exist.

    Links to other sites (`https:`, `mailto:`, ...) are not followed; `#anchor` alone points into `path`.

    Args:
        path: a Markdown file.

    Returns:
        The broken link targets, each with the reason, in the order they appear.
    """
    broken = []
    for target in _LINK_TARGET.findall(_without_code(path.read_text())):
        if _URL_SCHEME.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no file {linked}")
        elif anchor and linked.suffix == ".md" and anchor not in _heading_anchors(linked):
            broken.append(f"{target}: no heading with anchor #{anchor} in {linked.name}")
    return broken


def test_readme_is_a_front_page():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines, more than {README_MAX_LINES}"


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_resolve(path):
    assert broken_relative_links(path) == []


def test_every_docs_page_is_reachable_from_the_readme():
    reached, to_visit = set(), [README]
    while to_visit:
        page = to_visit.pop()
        if page in reached:
            continue
        reached.add(page)
        for target in _LINK_TARGET.findall(_without_code(page.read_text())):
            linked = (page.parent / target.partition("#")[0]).resolve()
            if not _URL_SCHEME.match(target) and linked.suffix == ".md" and linked.exists():
                to_visit.append(linked)
    unreached = [str(path.relative_to(ROOT)) for path in _markdown_files() if path.resolve() not in reached]
    assert unreached == []


def test_broken_links_are_found(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## Its section\n\n## Its section\n")
    (tmp_path / "figure.png").write_bytes(b"")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](other.md) [ok](other.md#its-section) [ok](other.md#its-section-1) ![ok](figure.png) [ok](#page)\n"
        "[ok](https://example.com/missing.md) `[code, not a link](missing.md)`\n"
        "```\n[also code](missing.md)\n# not a heading\n```\n"
        "[bad](missing.md) [bad](other.md#no-such-section) [bad](#not-a-heading)\n"
    )
    assert [problem.partition(":")[0] for problem in broken_relative_links(page)] == [
        "missing.md",
        "other.md#no-such-section",
        "#not-a-heading",
    ]


def test_ci_runs_exactly_the_readme_test_command():
    two_commands = README.read_text().split("## Two commands", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^```bash\n(.*?)\n```", two_commands, re.MULTILINE | re.DOTALL)
    test_commands = [command for command in commands if "pytest" in command]
    assert len(test_commands) == 1, f"README's Two commands should hold one test command, found {commands}"
    ci_script = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci_script[-1] == test_commands[0]
