"""Snapshots of a repository that a sandbox runs on.

A snapshot is the repository's tree as a tar archive (for example the output
of ``git archive HEAD``) plus an overlay of whole-file changes, which is how a
candidate patch is applied without touching the user's checkout.
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class Snapshot:
    base_tar: bytes
    overlay: Mapping[str, bytes] = field(
        default_factory=dict
    )  # repository-relative path -> new content

    def with_overlay(self, changes: Mapping[str, bytes]) -> Snapshot:
        """Return a snapshot with ``changes`` written over this one's files."""
        merged = dict(self.overlay)
        merged.update(changes)
        return Snapshot(self.base_tar, merged)

    def read(self, path: str) -> bytes | None:
        """Return the content of the file ``path`` with the overlay applied, or None if absent."""
        if path in self.overlay:
            return self.overlay[path]
        with tarfile.open(fileobj=io.BytesIO(self.base_tar)) as source:
            for member in source.getmembers():
                if member.isfile() and _safe_name(member.name) == path:
                    extracted = source.extractfile(member)
                    return extracted.read() if extracted is not None else None
        return None

    def to_tar(self, prefix: str = "", uid: int = 0, gid: int = 0) -> bytes:
        """Return one tar archive of the tree with the overlay applied.

        Every member is rewritten under ``prefix`` and owned by ``uid:gid``, so
        the archive can be extracted into a container for a non-root user.
        Absolute paths and ``..`` components are rejected.
        """
        out = io.BytesIO()
        written: set[str] = set()
        with (
            tarfile.open(fileobj=io.BytesIO(self.base_tar)) as source,
            tarfile.open(fileobj=out, mode="w") as target,
        ):
            for member in source.getmembers():
                name = _safe_name(member.name)
                if name is None or name in self.overlay:
                    continue
                data = source.extractfile(member) if member.isfile() else None
                member.name = _join(prefix, name)
                member.uid, member.gid, member.uname, member.gname = uid, gid, "", ""
                target.addfile(member, data)
                written.add(name)
            for path, content in sorted(self.overlay.items()):
                name = _safe_name(path)
                if name is None:
                    raise ValueError(
                        f"invalid overlay path {path!r}: it must be relative and inside the tree"
                    )
                for parent in reversed(PurePosixPath(name).parents[:-1]):
                    if str(parent) not in written:
                        _add_directory(target, _join(prefix, str(parent)), uid, gid)
                        written.add(str(parent))
                info = tarfile.TarInfo(_join(prefix, name))
                info.size, info.mode, info.mtime = len(content), 0o644, int(time.time())
                info.uid, info.gid = uid, gid
                target.addfile(info, io.BytesIO(content))
        return out.getvalue()

    def extract(self, destination: Path) -> None:
        """Write the tree with the overlay applied into an empty folder."""
        with tarfile.open(fileobj=io.BytesIO(self.to_tar())) as archive:
            archive.extractall(destination, filter="data")


def _safe_name(name: str) -> str | None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        return None
    normal = str(path)
    return None if normal in ("", ".") else normal


def _join(prefix: str, name: str) -> str:
    return f"{prefix.rstrip('/')}/{name}" if prefix else name


def _add_directory(target: tarfile.TarFile, name: str, uid: int, gid: int) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
    info.uid, info.gid = uid, gid
    target.addfile(info)
