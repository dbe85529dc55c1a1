"""What a migration did and what it left for a person: per-file results and the report."""

from __future__ import annotations

import dataclasses
import difflib
import io
import tokenize


@dataclasses.dataclass(frozen=True)
class Finding:
    """One line of the report: at `path`:`line`, `what` was left as is (or, for a note, changed).

    Attributes:
        path: the file, as given or found under a given directory.
        line: 1-based line number.
        what: the name, keyword or construct (``fastapi.WebSocket``, ``Lanner(middleware=...)``).
        why: the reason it has no lanner equivalent, or for a note what changed.
        note: True for something that was migrated but deserves a look.
    """

    path: str
    line: int
    what: str
    why: str
    note: bool = False

    def __str__(self) -> str:
        prefix = "note: " if self.note else ""
        return f"{self.path}:{self.line}: {prefix}{self.what}: {self.why}"


@dataclasses.dataclass
class FileResult:
    """The migration of one file.

    Attributes:
        path: the file.
        original: its bytes before.
        migrated: its bytes after (equal to `original` when nothing changed).
        findings: what the report lists for it, by line.
        error: why the file could not be migrated (it is then left untouched), else None.
    """

    path: str
    original: bytes
    migrated: bytes
    findings: list[Finding] = dataclasses.field(default_factory=list)
    error: str | None = None

    @property
    def changed(self) -> bool:
        """Whether the migration changed the file."""
        return self.migrated != self.original

    @property
    def unmapped(self) -> list[Finding]:
        """The uses that have no lanner equivalent and were left as they are."""
        return [finding for finding in self.findings if not finding.note]

    @property
    def notes(self) -> list[Finding]:
        """The changes worth a look (``ORJSONResponse`` became ``JSONResponse``)."""
        return [finding for finding in self.findings if finding.note]

    @property
    def text(self) -> str:
        """The migrated source as text."""
        return _decode(self.migrated)

    def diff(self) -> str:
        """A unified diff from the original to the migrated source ("" when unchanged)."""
        if not self.changed:
            return ""
        lines = difflib.unified_diff(
            _decode(self.original).splitlines(keepends=True),
            self.text.splitlines(keepends=True),
            fromfile=self.path,
            tofile=self.path,
        )
        return "".join(
            line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
        )


def _decode(data: bytes) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError):
        return data.decode("utf-8", errors="replace")


@dataclasses.dataclass
class MigrationReport:
    """The migration of every file found under the given paths.

    Attributes:
        files: one result per Python file, in the order they were found.
        written: whether changed files were written back.
    """

    files: list[FileResult] = dataclasses.field(default_factory=list)
    written: bool = True

    @property
    def changed(self) -> list[FileResult]:
        """The files the migration changed (or would change, without writing)."""
        return [result for result in self.files if result.changed]

    @property
    def unmapped(self) -> list[Finding]:
        """Every use left as is because lanner has no equivalent, across files."""
        return [finding for result in self.files for finding in result.unmapped]

    @property
    def notes(self) -> list[Finding]:
        """Every migrated use worth a look, across files."""
        return [finding for result in self.files for finding in result.notes]

    @property
    def errors(self) -> list[FileResult]:
        """The files that could not be migrated (not valid Python, say)."""
        return [result for result in self.files if result.error is not None]

    def lines(self) -> list[str]:
        """The report: ``path:line: message`` for each finding and error, then a summary line."""
        out: list[str] = []
        for result in self.files:
            if result.error is not None:
                out.append(f"{result.path}: error: {result.error}")
            out.extend(str(finding) for finding in result.findings)
        verb = "migrated" if self.written else "would migrate"
        unmapped, notes = len(self.unmapped), len(self.notes)
        summary = (
            f"{verb} {len(self.changed)} of {len(self.files)} file(s); "
            f"{unmapped} use(s) without a lanner equivalent, {notes} note(s)"
        )
        if self.errors:
            summary += f", {len(self.errors)} file(s) not migrated"
        out.append(summary)
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())
