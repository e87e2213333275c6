"""File output helpers: atomic writes and writable-directory checks.

Nothing here computes; the CLI and the explicit save helpers use it so that an
interrupted or failed run never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["atomic_path", "atomic_paths", "atomic_write_text", "writable_dir", "undo_on_refusal"]


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (d / "a.txt").read_text()
    'hello'
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp",
                               dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; outputs get the usual mode
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_paths(paths):
    """:func:`atomic_path` for a group of files that belong together (a figure's PNG, PDF and
    data): yield one temporary path per file; all are moved into place, one after the other
    with nothing in between, only once the whole block has succeeded. An interruption while
    the block runs leaves none of them.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> try:
    ...     with atomic_paths([d / "a.png", d / "a.pdf"]) as (png, pdf):
    ...         _ = png.write_text("done")
    ...         raise KeyboardInterrupt
    ... except KeyboardInterrupt:
    ...     pass
    >>> sorted(p.name for p in d.iterdir())
    []
    """
    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(atomic_path(p)) for p in paths]
        yield tmps
        # the stack unwinds in reverse order, each moving its file into place


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def writable_dir(path, name: str = "output directory") -> Path:
    """Create ``path`` if needed and check that files can be written there.

    Raises ``ValueError`` naming ``name`` when it cannot be created or written.
    """
    if not str(path).strip():  # Path("") is the current directory: an empty option is a slip
        raise ValueError(f"{name} must name a directory, got an empty string")
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"{name} {str(path)!r} cannot be written: {exc.strerror or exc}") from None
    return path


@contextlib.contextmanager
def undo_on_refusal(directory, paths=(), *, spare=()):
    """Remove, when the block raises a ``ValueError`` (a refusal found while computing), what
    it created: those of ``paths`` (files or directory trees) that did not exist before it,
    then the directories of ``directory``'s chain that it created, where left empty.

    A refused run then leaves nothing behind, and the corrected rerun is not told that an
    empty directory or a half-initialised store "holds a sweep". Other exceptions (an
    interruption) keep everything, so that a store can be resumed, and so do the ``ValueError``
    subclasses in ``spare`` (a refusal because another process owns what is there now).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "new" / "out"
    >>> try:
    ...     with undo_on_refusal(d, [d / "a.txt"]):
    ...         d.mkdir(parents=True)
    ...         _ = (d / "a.txt").write_text("half")
    ...         raise ValueError("refused")
    ... except ValueError:
    ...     pass
    >>> d.parent.exists()
    False
    """
    directory = Path(directory).absolute()
    new_dirs = [p for p in (directory, *directory.parents) if not p.exists()]
    new_paths = [Path(p) for p in paths if not os.path.lexists(p)]
    try:
        yield
    except ValueError as exc:
        if isinstance(exc, tuple(spare)):
            raise
        for path in new_paths:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.lexists(path):
                path.unlink(missing_ok=True)
        for path in new_dirs:  # deepest first
            try:
                path.rmdir()
            except OSError:  # not empty (someone else's files) or already gone
                break
        raise
