"""Audit trails kept in object storage: the reading seam for fsspec URLs.

Local paths never come here: they keep the direct ``os`` code path of
:mod:`.scan`. A source given as a URL (``s3://bucket/prefix/``, ``gs://``,
``az://``, ``memory://``, ``file://``) becomes an :class:`ObjectPath`, a
small picklable value (the URL and its ``storage_options``) that the
scanner, the verifier, the loader and the worker processes or Dask workers
open themselves: a worker receives the URL and a byte range, never the data.

Everything read through here is bounded: a day file is streamed in blocks
with no read-ahead cache (each byte fetched once), a seal or manifest is
read only up to its size cap. A missing object, a denied read or a dropped
connection becomes an ``OSError`` naming the URL (never the credentials:
every string given in ``storage_options`` is masked out of the message).

Needs ``fsspec`` and the filesystem's own package: ``pip install
'fapilog-notebook[s3]'`` (or ``[gcs]``, ``[azure]``, ``[fsspec]``).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ObjectEntry",
    "ObjectPath",
    "is_url",
    "list_entries",
    "open_object",
    "read_bounded",
]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")

#: How many bytes one range request of a day file asks for (the scanner's
#: default read for an object; a local file is read 4 MiB at a time): fewer
#: requests, and with one read fetched ahead at most two blocks held.
READ_BLOCK = 8 * 1024 * 1024

#: Bytes fetched from object storage by this process (day files, seals,
#: manifests): what the benchmark compares with the trail's size.
_fetched = [0]


def bytes_fetched() -> int:
    """How many bytes this process has read from object storage so far."""
    return _fetched[0]


def is_url(value: object) -> bool:
    """True for a string (or :class:`ObjectPath`) that names a location by URL."""
    if isinstance(value, ObjectPath):
        return True
    return isinstance(value, str) and _SCHEME.match(value) is not None


def _secrets(options: Mapping[str, Any]) -> Iterator[str]:
    """Every string in ``options`` (nested too) long enough to be a credential."""
    for value in options.values():
        if isinstance(value, str) and len(value) >= 4:
            yield value
        elif isinstance(value, Mapping):
            yield from _secrets(value)


class ObjectPath(os.PathLike[str]):
    """One object (or prefix) in an fsspec filesystem: its URL and storage options.

    Behaves like the parts of :class:`pathlib.Path` the readers use (``name``,
    ``parent``, ``/``, ``str``). Its ``repr`` and ``str`` show the URL only,
    never the options (they may hold credentials).
    """

    __slots__ = ("_options", "url")

    def __init__(self, url: str, options: Mapping[str, Any] | None = None) -> None:
        if not is_url(url):
            raise ValueError(f"{url!r} is not a URL (scheme://...)")
        scheme, _, rest = url.partition("://")
        self.url = f"{scheme}://{rest.rstrip('/')}" if rest.rstrip("/") else url
        self._options: dict[str, Any] = dict(options or {})

    def __reduce__(self) -> tuple[Any, ...]:
        return (ObjectPath, (self.url, self._options))

    def __fspath__(self) -> str:
        return self.url

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"ObjectPath({self.url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectPath) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)

    def __lt__(self, other: ObjectPath) -> bool:
        return self.url < other.url

    def __truediv__(self, name: str) -> ObjectPath:
        return ObjectPath(f"{self.url}/{name}", self._options)

    @property
    def options(self) -> dict[str, Any]:
        """The storage options (a copy)."""
        return dict(self._options)

    @property
    def name(self) -> str:
        """The last part of the URL."""
        return self.url.partition("://")[2].rpartition("/")[2]

    @property
    def parent(self) -> ObjectPath:
        """The prefix this object is in."""
        scheme, _, rest = self.url.partition("://")
        head = rest.rpartition("/")[0]
        return ObjectPath(f"{scheme}://{head}", self._options)

    def filesystem(self) -> tuple[Any, str]:
        """The fsspec filesystem and the path within it.

        :raises ImportError: fsspec (or this scheme's package) is not installed.
        """
        try:
            import fsspec
        except ImportError:
            raise ImportError(
                f"reading {self.url!r} needs fsspec: pip install 'fapilog-notebook[fsspec]' "
                "(or [s3], [gcs], [azure])"
            ) from None
        try:
            fs, path = fsspec.core.url_to_fs(self.url, **self._options)
        except ImportError:
            raise
        except Exception as exc:
            raise self.error(exc, "cannot open the filesystem of") from None
        return fs, path

    def error(self, exc: BaseException, action: str) -> OSError:
        """``exc`` as an ``OSError`` naming this URL, credentials masked."""
        if isinstance(exc, OSError) and exc.strerror:
            reason = exc.strerror
        else:
            reason = str(exc) or type(exc).__name__
        for secret in _secrets(self._options):
            reason = reason.replace(secret, "***")
        reason = reason.replace("\n", " ")[:300]
        if isinstance(exc, FileNotFoundError):
            number = errno.ENOENT
        elif isinstance(exc, PermissionError):
            number = errno.EACCES
        elif isinstance(exc, OSError) and exc.errno:
            number = exc.errno
        else:
            number = errno.EIO
            reason = f"{type(exc).__name__}: {reason}"
        error_type = {errno.ENOENT: FileNotFoundError, errno.EACCES: PermissionError}.get(
            number, OSError
        )
        return error_type(number, f"{action} {self.url}: {reason}", self.url)

    def info(self) -> dict[str, Any] | None:
        """The object's fsspec details (``type``, ``size``), ``None`` if there is none.

        :raises OSError: it cannot be asked (denied, unreachable), naming the URL.
        """
        fs, path = self.filesystem()
        try:
            details: dict[str, Any] = fs.info(path)
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self.error(exc, "cannot look up") from None
        return details

    def exists(self) -> bool:
        """Whether an object or prefix is there."""
        return self.info() is not None

    def is_dir(self) -> bool:
        """Whether this is a prefix (a "directory") holding objects."""
        details = self.info()
        return details is not None and details.get("type") == "directory"

    def size(self) -> int:
        """The object's size in bytes.

        :raises FileNotFoundError: there is no object, naming the URL.
        """
        details = self.info()
        if details is None or details.get("type") != "file":
            raise FileNotFoundError(errno.ENOENT, f"no object at {self.url}", self.url)
        return int(details.get("size") or 0)


@dataclass(frozen=True, slots=True)
class ObjectEntry:
    """An entry of a listing, shaped like :class:`os.DirEntry` where the readers use it."""

    name: str
    path: ObjectPath
    kind: str

    def is_file(self) -> bool:
        """True for an object."""
        return self.kind == "file"

    def is_dir(self) -> bool:
        """True for a prefix holding objects."""
        return self.kind == "directory"


def list_entries(directory: ObjectPath) -> list[ObjectEntry]:
    """The entries directly under ``directory``, sorted by name.

    :raises OSError: it cannot be listed (missing, denied, unreachable), naming the URL.
    """
    fs, path = directory.filesystem()
    try:
        fs.invalidate_cache(path)
        listing = fs.ls(path, detail=True)
    except Exception as exc:
        raise directory.error(exc, "cannot list") from None
    entries: list[ObjectEntry] = []
    for item in listing:
        name = str(item.get("name", "")).rstrip("/").rpartition("/")[2]
        if not name:
            continue
        entries.append(ObjectEntry(name, directory / name, str(item.get("type", "file"))))
    entries.sort(key=lambda e: e.name)
    return entries


class _ObjectReader(io.RawIOBase):
    """An object opened for reading: no read-ahead cache (each byte fetched
    once), any failure an ``OSError`` naming the URL, bytes counted.

    With ``prefetch`` (a whole object streamed front to back), the next read
    of the same size is fetched in a background thread while the caller
    checks the current one, so network time overlaps checking time; only one
    read is ever in flight, and a read that does not follow on discards it.
    """

    def __init__(self, location: ObjectPath, handle: Any, *, prefetch: bool = False) -> None:
        super().__init__()
        self._location = location
        self._handle = handle
        self._prefetch = prefetch
        self._position = 0
        self._ahead: tuple[int, int, Future[bytes]] | None = None
        self._pool: ThreadPoolExecutor | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def _fetch(self, offset: int, size: int) -> bytes:
        self._handle.seek(offset)
        data: bytes = self._handle.read(size)
        return data

    def _take_ahead(self, size: int) -> bytes | None:
        """The read fetched ahead, if it is the one asked for now (else it is dropped)."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        offset, length, future = ahead
        data = future.result()  # a failure surfaces here, as the read's own
        if offset == self._position and length == size:
            return data
        _fetched[0] += len(data)  # fetched all the same
        return None

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._take_ahead(size)
            if data is None:
                data = self._fetch(self._position, size)
            if self._prefetch and size > 0 and len(data) == size:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(1, thread_name_prefix="fapilog-objstore")
                after = self._position + len(data)
                self._ahead = (after, size, self._pool.submit(self._fetch, after, size))
        except Exception as exc:
            raise self._location.error(exc, "cannot read") from None
        _fetched[0] += len(data)
        self._position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence == io.SEEK_END:
            offset += self._location.size()
        elif whence != io.SEEK_SET:
            raise ValueError(f"invalid whence {whence}")
        self._position = max(offset, 0)
        return self._position

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        if self._ahead is not None:
            with contextlib.suppress(Exception):
                self._ahead[2].result()
            self._ahead = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with contextlib.suppress(Exception):  # a read-only handle loses nothing on close
            self._handle.close()
        super().close()


def open_object(location: ObjectPath, *, prefetch: bool = False) -> io.RawIOBase:
    """``location`` opened for bounded reading (``prefetch``: streamed front to back,
    the next read fetched while the current one is used).

    :raises OSError: it is missing, a prefix, denied or unreachable, naming the URL.
    """
    fs, path = location.filesystem()
    try:
        details = fs.info(path)
        if details.get("type") != "file":
            raise OSError(errno.EINVAL, "it is a prefix (a directory), not an object")
        handle = fs.open(path, "rb", cache_type="none", block_size=4 * 1024 * 1024)
    except Exception as exc:
        raise location.error(exc, "cannot open") from None
    return _ObjectReader(location, handle, prefetch=prefetch)


def read_bounded(location: ObjectPath, limit: int) -> bytes | None:
    """The bytes of a small object (at most ``limit``), ``None`` if it is missing.

    :raises ValueError: it is a prefix or larger than ``limit`` (too large to be what it should).
    :raises OSError: it cannot be read, naming the URL.
    """
    details = location.info()
    if details is None:
        return None
    if details.get("type") != "file":
        raise ValueError(f"{location.name} is a prefix (a directory), not an object")
    if int(details.get("size") or 0) > limit:
        raise ValueError(
            f"{location.name} holds more than {limit} bytes, far more than it should hold"
        )
    with open_object(location) as handle:
        data = handle.read(limit + 1)
    if data is None or len(data) > limit:
        raise ValueError(
            f"{location.name} holds more than {limit} bytes, far more than it should hold"
        )
    return data
