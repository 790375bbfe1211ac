"""The front door stays short and true (issue 34): README.md is at most 250 lines, every relative link in
README.md and docs/*.md resolves (to a file or folder, and `#anchor` to a heading of the target, as GitHub
makes its slugs), and every `physml ...` command line they show parses against the real CLI.

Command lines are read from fenced shell blocks (bash, sh, shell, console or no language) and from inline
code spans. Parsing is argparse alone: nothing runs. A line is cut at `|`, `&&`, `||`, `;`, `>` and `#`
comments; `VAR=value` prefixes and `$` prompts are dropped, `\\` continuations joined, and a command after
`--` (`ray job submit -- physml ...`) or inside a quoted `bash -c "..."` string is found too. Lines with
`<placeholders>` or an elided `...` are skipped. A synopsis (`physml X [--flag A|B] [--set K=V ...]`, its
`[...]` continuation lines joined) is read with its brackets dropped and the first of each `A|B`. An inline
span may name a command without its required arguments (`physml compare`); its flags and words still parse.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
MAX_README_LINES = 250

SHELL_FENCES = {"", "bash", "sh", "shell", "console", "zsh"}
SEPARATORS = {"|", "||", "&&", ";", "&", ">", ">>", "2>", "2>&1", "<"}
ENV_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"(?<!`)`([^`]+)`(?!`)")


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def is_physml(word: str) -> bool:
    return word == "physml" or word.endswith("/bin/physml") or word == "./physml"


# --- reading the pages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    path: Path
    number: int
    text: str
    inline: bool = False

    def __str__(self) -> str:
        return f"{relative(self.path)}:{self.number}: {self.text}"


def fenced_shell_lines(path: Path) -> list[Line]:
    """The logical lines (continuations joined) of the page's shell blocks, heredoc bodies left out."""
    lines: list[Line] = []
    fence: str | None = None  # the open fence's info string, None outside a block
    heredoc_end: str | None = None
    pending: Line | None = None  # a line ending in "\" waiting for its continuation
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("```"):
            fence = stripped[3:].strip().lower() if fence is None else None
            pending = None
            continue
        if fence is None or fence not in SHELL_FENCES:
            continue
        if heredoc_end is not None:
            heredoc_end = None if stripped == heredoc_end else heredoc_end
            continue
        if pending is not None:
            stripped = f"{pending.text} {stripped}"
            number = pending.number
            pending = None
        elif stripped.startswith("[") and lines and lines[-1].text.split() and "[" in lines[-1].text:
            lines[-1] = Line(path, lines[-1].number, f"{lines[-1].text} {stripped}")  # a synopsis goes on
            continue
        if stripped.endswith("\\"):
            pending = Line(path, number, stripped[:-1].rstrip())
            continue
        heredoc = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", stripped)
        if heredoc:
            heredoc_end = heredoc.group(1)
        lines.append(Line(path, number, stripped))
    return lines


def paragraphs(path: Path) -> list[tuple[int, str]]:
    """The page's text outside fenced blocks, paragraph by paragraph: (first line's number, its lines)."""
    found: list[tuple[int, str]] = []
    lines: list[tuple[int, str]] = []
    in_fence = False
    for number, raw in enumerate([*path.read_text().splitlines(), ""], 1):
        fence = raw.strip().startswith("```")
        if not in_fence and raw.strip() and not fence:
            lines.append((number, raw))
            continue
        if lines:
            found.append((lines[0][0], "\n".join(line for _, line in lines)))
            lines = []
        in_fence = in_fence != fence
    return found


def line_of(first: int, text: str, offset: int) -> int:
    return first + text.count("\n", 0, offset)


def inline_spans(path: Path) -> list[Line]:
    """Inline code spans (outside fenced blocks) that start with a physml command."""
    spans: list[Line] = []
    for first, text in paragraphs(path):
        for match in INLINE_CODE.finditer(text):
            code = " ".join(match.group(1).split())
            if len(code.split()) > 1 and is_physml(code.split()[0]):  # a bare `physml` names the program
                spans.append(Line(path, line_of(first, text, match.start()), code, inline=True))
    return spans


# --- from a line to argv -------------------------------------------------------------------------------


def segments(words: list[str]) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for word in words:
        if word in SEPARATORS or word.startswith((">", "2>")):
            out.append([])
        else:
            out[-1].append(word)
    return [segment for segment in out if segment]


def physml_argvs(text: str) -> list[list[str]]:
    """Each physml command in a shell line, as the argv after `physml` (synopses normalised)."""
    text = re.sub(r"^\$\s+", "", text)
    synopsis = bool(re.search(r"\[-", text))
    if synopsis:  # brackets mark options, "A|B" alternatives (take A), "X ..." repetition (drop it)
        text = re.sub(r"\s\.\.\.(?=[\s\]])", " ", text).replace("[", " ").replace("]", " ")
        text = re.sub(r"(?<=\S)\|\S+", "", text)
    words = shlex.split(text, comments=True)
    argvs = []
    for segment in segments(words):
        while segment and ENV_PREFIX.match(segment[0]):
            segment = segment[1:]
        if segment and is_physml(segment[0]):
            argvs.append(segment[1:])
        elif "--" in segment and segment.index("--") + 1 < len(segment) and is_physml(segment[segment.index("--") + 1]):
            argvs.append(segment[segment.index("--") + 2 :])
        for word in segment[1:]:  # bash -lc "cd ~/physml && physml tune ..."
            if " " in word and "physml" in word:
                argvs.extend(physml_argvs(word))
    return argvs


def skipped(text: str) -> bool:
    elided = "..." in text and not re.search(r"\[-", text)
    return bool(re.search(r"<[A-Za-z][^>]*>", text.split(" #")[0])) or elided


def command_lines() -> list[Line]:
    found = []
    for path in PAGES:
        for line in [*fenced_shell_lines(path), *inline_spans(path)]:
            if "physml" in line.text and not skipped(line.text):
                try:
                    if physml_argvs(line.text):
                        found.append(line)
                except ValueError:  # unbalanced quotes: only a physml line itself must split
                    if is_physml(line.text.split()[0]):
                        found.append(line)
    return found


# --- parsing without running ---------------------------------------------------------------------------


class ParseError(Exception):
    pass


class ParseExit(Exception):
    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


@contextlib.contextmanager
def argparse_raises():
    """argparse reports through ArgumentParser.error/exit (SystemExit): raise instead, for every subparser."""

    def error(self, message):
        raise ParseError(f"{self.prog}: {message}")

    def exit(self, status=0, message=None):
        raise ParseExit(status)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "error", error)
        patch.setattr(argparse.ArgumentParser, "exit", exit)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield


FIRST_CHOICE = re.compile(r"\(choose from '?([^',)]+)")


def refused_metavar(message: str, argv: list[str], stand_ins: dict[int, list[str]]) -> int | None:
    """Where argparse refused a synopsis's upper-case metavar (TASK, N, X) or a stand-in for it, if a
    stand-in is left to try: the first choice where there are choices, else 1, else 0.5."""
    for index, word in enumerate(argv):
        if f"'{word}'" in message and (index in stand_ins or re.fullmatch(r"[A-Z][A-Z0-9_]*", word)):
            if index not in stand_ins:
                choice = FIRST_CHOICE.search(message)
                stand_ins[index] = [choice.group(1)] if choice else ["1", "0.5"]
            return index if stand_ins[index] else None
    return None


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    argv = list(argv)
    stand_ins: dict[int, list[str]] = {}
    while True:
        try:
            with argparse_raises():
                return parser.parse_args(argv)
        except ParseError as exc:
            index = refused_metavar(str(exc), argv, stand_ins)
            if index is None:
                raise
            argv[index] = stand_ins[index].pop(0)


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    from physml.cli import build_parser

    return build_parser()


COMMANDS = command_lines()


def test_readme_is_short():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


def test_every_docs_page_is_linked_from_the_readme():
    text = README.read_text()
    missing = [relative(page) for page in PAGES[1:] if f"]({relative(page)}" not in text]
    assert not missing, f"not linked from README.md: {missing}"


def test_the_command_lines_are_found():
    """Guards the reader: the pages show many physml commands, so finding few means the reader broke."""
    assert len(COMMANDS) >= 40, [str(line) for line in COMMANDS]


@pytest.mark.parametrize("line", COMMANDS, ids=str)
def test_command_line_parses(parser, line: Line):
    try:
        argvs = physml_argvs(line.text)
    except ValueError as exc:
        pytest.fail(f"{line}\n-> cannot split it as a shell line: {exc}")
    for argv in argvs:
        try:
            args = parse(parser, argv)
        except ParseExit as exc:  # --help, --version
            assert exc.status == 0, f"{line}\n-> argparse exited {exc.status}"
            continue
        except ParseError as exc:
            if line.inline and "the following arguments are required" in str(exc):
                continue  # an inline span naming a command, not a whole command line
            pytest.fail(f"{line}\n-> physml {shlex.join(argv)}\n-> {exc}")
        assert callable(args.func), f"{line}: no command"


# --- links ---------------------------------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    in_fence = False
    for raw in path.read_text().splitlines():
        if raw.strip().startswith("```"):
            in_fence = not in_fence
            continue
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", raw)
        if match and not in_fence:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links() -> list[tuple[Path, int, str]]:
    """Every link outside code (a link's text may break across lines), but http(s):, mailto: and the like."""
    links = []
    for path in PAGES:
        for first, text in paragraphs(path):
            text = INLINE_CODE.sub(lambda code: " " * len(code.group(0)), text.replace("``", "  "))
            for match in LINK.finditer(text):
                target = match.group(1) or match.group(2)
                if not re.match(r"^[a-z][a-z0-9+.-]*:", target):
                    links.append((path, line_of(first, text, match.start()), target))
    return links


LINKS = relative_links()


def test_the_links_are_found():
    assert len(LINKS) >= 20, LINKS


@pytest.mark.parametrize(("path", "number", "target"), LINKS, ids=[f"{relative(p)}:{n}:{t}" for p, n, t in LINKS])
def test_relative_link_resolves(path: Path, number: int, target: str):
    file_part, _, anchor = target.partition("#")
    destination = (path.parent / file_part).resolve() if file_part else path
    where = f"{relative(path)}:{number}: ({target})"
    assert destination.exists(), f"{where} -> {destination} does not exist"
    if anchor and destination.is_file() and destination.suffix == ".md":
        assert anchor in anchors(destination), f"{where} -> no heading with the anchor #{anchor}"
