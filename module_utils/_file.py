"""Reading and writing the small text files the dockyard modules own.

Private to this collection's modules (hence the leading underscore): its
functions may change in any release.

Every failure is a FileError with a sentence that names the file, for the
module to pass to fail_json: no traceback reaches the user. Writes are atomic
and go through a symbolic link to the file it points at (the link stays); a
file that anyone may write to is reported, so that the module can warn and
take that permission away.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile


class FileError(Exception):
    pass


def target(path):
    """The file a write must replace: path itself, or where its links lead."""
    return os.path.realpath(path) if os.path.islink(path) else path


def read_text(path):
    """Return the file's text, or None when there is no file."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        if os.path.islink(path):
            raise FileError(f"{path} is a symbolic link to {os.path.realpath(path)}, which does not exist") from None
        return None
    except IsADirectoryError:
        raise FileError(f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise FileError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileError(f"{path} is not UTF-8 text (byte {exc.start} is not); fix or remove it first") from exc


def json_object(text, path):
    """The JSON object in a file's text; an empty or missing file is an empty object."""
    if not text or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise FileError(f"{path} is not valid JSON ({exc}); fix or remove it first") from exc
    if not isinstance(data, dict):
        raise FileError(f"{path} must hold a JSON object, found {type(data).__name__}")
    return data


def world_writable(path):
    """True when an existing file (or its link target) may be written by anyone."""
    try:
        return bool(os.stat(path).st_mode & stat.S_IWOTH)
    except OSError:
        return False


def write_text(module, path, text, mode):
    """Replace the file atomically with text, through symbolic links.

    A new file gets mode (an octal string or int); an existing file keeps its
    mode, less write permission for others. Returns the path written.
    """
    dest = target(path)
    directory = os.path.dirname(dest) or "."
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(dest)}.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if os.path.exists(dest):
            os.chmod(tmp, stat.S_IMODE(os.stat(dest).st_mode) & ~stat.S_IWOTH)
        else:
            os.chmod(tmp, int(str(mode), 8) if isinstance(mode, str) else mode)
    except OSError as exc:
        raise FileError(f"cannot write {dest}: {exc.strerror}") from exc
    module.atomic_move(tmp, dest)
    return dest


def drop_world_write(path):
    """Take write permission for others away from an existing file."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        os.chmod(path, mode & ~stat.S_IWOTH)
    except OSError as exc:
        raise FileError(f"cannot change the mode of {path}: {exc.strerror}") from exc


def set_mode(path, mode):
    """Give an existing file or directory this mode (an int)."""
    try:
        os.chmod(path, mode)
    except OSError as exc:
        raise FileError(f"cannot change the mode of {path}: {exc.strerror}") from exc


def make_directory(path, mode):
    """Create the directory and its parents, and give it this mode (an int)."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise FileError(f"cannot create {path}: {exc.strerror}") from exc
    set_mode(path, mode)
