"""A real S3 API on 127.0.0.1 (moto's server mode) and ways to put trails in it.

Tests talk to it through boto3 and s3fs exactly as they would to AWS; only
the endpoint differs. The server listens on loopback only, on a free port.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

#: The secret the tests' credentials use: it must never appear in any output.
SECRET = "tEsT-SeCrEt-9f3b7c1e5a"
KEY_ID = "AKIAFAPILOGTESTKEY01"


@dataclass(frozen=True)
class S3Server:
    """A running moto server: its endpoint and a boto3 client for it."""

    endpoint: str
    client: Any

    @property
    def options(self) -> dict[str, Any]:
        """The fsspec storage options for s3fs against this server."""
        return {"key": KEY_ID, "secret": SECRET, "endpoint_url": self.endpoint}

    def bucket(self, name: str, *, lock: bool = False) -> str:
        """Create bucket ``name`` (with Object Lock when ``lock``) and return its URL."""
        if lock:
            self.client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        else:
            self.client.create_bucket(Bucket=name)
        return f"s3://{name}"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    """moto's ThreadedMotoServer on 127.0.0.1 (never another address), for one module."""
    pytest.importorskip("s3fs")
    boto3 = pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )
    try:
        yield S3Server(endpoint, client)
    finally:
        server.stop()


def upload(directory: Path, bucket: str, prefix: str, client: Any) -> None:
    """Put every regular file of ``directory`` under ``prefix`` in ``bucket`` (boto3)."""
    for path in sorted(directory.iterdir()):
        if stat.S_ISREG(os.lstat(path).st_mode):
            client.put_object(Bucket=bucket, Key=f"{prefix}/{path.name}", Body=path.read_bytes())


def to_memory(directory: Path, url: str) -> None:
    """Copy every regular file of ``directory`` under the ``memory://`` ``url``."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    for path in sorted(directory.iterdir()):
        if stat.S_ISREG(os.lstat(path).st_mode):
            fs.pipe(f"{root}/{path.name}", path.read_bytes())


def only_regular_files(directory: Path) -> bool:
    """True when every entry is a regular file (what an object store can hold)."""
    return all(stat.S_ISREG(os.lstat(p).st_mode) for p in directory.iterdir())


def relocate(value: Any, mapping: Mapping[str, str]) -> Any:
    """``value`` (a report's dict) with each local prefix replaced by its URL."""
    if isinstance(value, str):
        for old, new in mapping.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: relocate(v, mapping) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(relocate(v, mapping) for v in value)
    return value
