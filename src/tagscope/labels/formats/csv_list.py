"""CSV lists (SPEC F-02): the first field names a file, the other fields are its labels."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tagscope.domain import Label, LabelKind, ValidationError
from tagscope.labels.formats.records import Entry, Parsed, read_source
from tagscope.media.paths import ImportFolder, UnsafePath

# A first row whose first field is one of these is a header, not a file.
_HEADER_NAMES = frozenset({"name", "file", "filename", "file_name", "path", "filepath", "image"})


def read_csv_list(path: Path, *, base: Path | None = None, follow_symlinks: bool = False) -> Parsed:
    """Read a CSV list of files and classification labels.

    Each row is ``file name, label, label, ...``; the first label is the main one and a row
    without labels names an unlabelled file. Blank rows and a header row (first field ``name``,
    ``file``, ``filename``, ``path``, ...) are skipped. A malformed row (broken quoting) or a
    file name that leads out of the folder (see :class:`ImportFolder`) is reported as
    ``<file>:<line>`` and the rows after it are still read.

    Parameters
    ----------
    path : Path
        The CSV file (UTF-8, with or without a byte-order mark).
    base : Path, optional
        The folder file names are relative to; defaults to the CSV file's folder. Names stay
        inside it: absolute names and names with ``..`` are refused.
    follow_symlinks : bool, default False
        Allow symbolic links to image files outside the folder.

    Raises
    ------
    ValidationError
        The file is missing or is not UTF-8 text.
    """
    raw = read_source(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValidationError(
            f"{path.name}: line {line} is not UTF-8 text (byte {exc.start})", field="path"
        ) from None
    folder = ImportFolder(base or path.parent, follow_symlinks=follow_symlinks)
    parsed = Parsed()
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        line = reader.line_num + 1  # where the next row starts (a quoted field may span lines)
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            parsed.problem(f"{path.name}:{line}", f"malformed row: {exc}")
            continue
        cells = [cell.strip() for cell in row]
        if not any(cells) or (line == 1 and cells[0].lower() in _HEADER_NAMES):
            continue
        if not cells[0]:
            parsed.problem(f"{path.name}:{line}", "empty file name")
            continue
        try:
            file = folder.path_of(cells[0])
        except UnsafePath as exc:
            parsed.problem(f"{path.name}:{line}", str(exc))
            continue
        names = list(dict.fromkeys(cell for cell in cells[1:] if cell))
        labels = tuple(
            Label(LabelKind.CLASSIFICATION, name, is_main=i == 0) for i, name in enumerate(names)
        )
        parsed.entries.append(Entry(file, labels))
    return parsed
