"""Trails read and verified in place from object storage (a real S3 API on 127.0.0.1)."""

from __future__ import annotations

import pickle
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fapilog_notebook import objstore, read_audit_log, verify_audit_log
from fapilog_notebook.objstore import ObjectPath, bytes_fetched
from fapilog_notebook.scan import resolve_source
from fapilog_notebook.verify import _driver as verify_module
from fapilog_notebook.verify import _parallel as par

from .logbuilder import build_log
from .objstore_helpers import (
    SECRET,
    S3Server,
    only_regular_files,
    relocate,
    s3,
    to_memory,
    upload,
)
from .report_helpers import comparable
from .test_parallel import CORPUS, client, pool

__all__ = ["client", "pool", "s3"]  # fixtures used here


def _corpus_in(
    root: Path, store: str, put: Any
) -> dict[str, tuple[Any, dict[str, Any], Any, dict[str, str]]]:
    """Each case whose files an object store can hold: (local source, kwargs, URL source, map)."""
    cases: dict[str, tuple[Any, dict[str, Any], Any, dict[str, str]]] = {}
    for name, build in CORPUS.items():
        directory = root / name
        source, kwargs = build(directory)
        if not only_regular_files(directory):
            continue  # a FIFO, a link or a subdirectory has no object to be
        url = f"{store}/{name}"
        put(directory, name)
        mapping = {str(directory): url}
        if isinstance(source, list):
            remote: Any = [relocate(str(p), mapping) for p in source]
        else:
            remote = relocate(str(source), mapping)
        cases[name] = (source, kwargs, remote, mapping)
    return cases


@pytest.fixture(scope="module")
def bucket_corpus(
    s3: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Any, dict[str, Any], Any, dict[str, str]]]:
    url = s3.bucket("corpus")
    root = tmp_path_factory.mktemp("bucket-corpus")
    return _corpus_in(root, url, lambda d, name: upload(d, "corpus", name, s3.client))


def test_the_corpus_held_in_the_bucket_is_most_of_it(
    bucket_corpus: dict[str, Any],
) -> None:
    assert len(bucket_corpus) >= len(CORPUS) - 3
    assert {"altered", "sealed-then-tampered-keyed", "long-line", "fixture-range"} <= set(
        bucket_corpus
    )


def test_verifying_from_the_bucket_reports_what_local_reports(
    bucket_corpus: dict[str, tuple[Any, dict[str, Any], Any, dict[str, str]]], s3: S3Server
) -> None:
    for name, (source, kwargs, remote, mapping) in bucket_corpus.items():
        local = relocate(comparable(verify_audit_log(source, progress=False, **kwargs)), mapping)
        report = verify_audit_log(remote, storage_options=s3.options, progress=False, **kwargs)
        assert comparable(report) == local, name
        for finding in report.finding_list:
            assert finding.file is None or finding.file.startswith("s3://corpus/"), name


def test_loading_from_the_bucket_gives_the_local_frame(
    bucket_corpus: dict[str, tuple[Any, dict[str, Any], Any, dict[str, str]]], s3: S3Server
) -> None:
    for name, (source, kwargs, remote, mapping) in bucket_corpus.items():
        bounds = {k: v for k, v in kwargs.items() if k in ("since", "until")}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            local = read_audit_log(source, progress=False, **bounds)
            frame = read_audit_log(remote, storage_options=s3.options, progress=False, **bounds)
        local["source_file"] = [relocate(f, mapping) for f in local["source_file"]]
        frame["source_file"] = frame["source_file"].astype(local["source_file"].dtype)
        pd.testing.assert_frame_equal(frame, local, obj=name)


def test_workers_and_dask_read_the_bucket_themselves(
    bucket_corpus: dict[str, tuple[Any, dict[str, Any], Any, dict[str, str]]],
    s3: S3Server,
    pool: Any,
    client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(par, "CHUNK_BYTES", 1500)  # ranges that cut files mid-line
    for name in ("clean", "altered", "torn", "sealed-then-tampered-keyed", "long-line"):
        _, kwargs, remote, _ = bucket_corpus[name]
        serial = comparable(
            verify_audit_log(remote, storage_options=s3.options, progress=False, **kwargs)
        )
        two = verify_audit_log(remote, storage_options=s3.options, workers=2, **kwargs)
        assert comparable(two) == serial, name
        on_pool = verify_audit_log(remote, storage_options=s3.options, workers=pool, **kwargs)
        assert comparable(on_pool) == serial, name
        dask = verify_audit_log(
            remote, storage_options=s3.options, engine="dask", client=client, **kwargs
        )
        assert comparable(dask) == serial, name
    _, _, remote, _ = bucket_corpus["clean"]
    expected = read_audit_log(remote, storage_options=s3.options, progress=False)
    lazy = read_audit_log(remote, storage_options=s3.options, engine="dask", client=client)
    computed = client.compute(lazy).result()
    pd.testing.assert_frame_equal(computed.reset_index(drop=True), expected, check_exact=True)


def test_workers_are_sent_urls_and_byte_ranges_never_data(
    bucket_corpus: dict[str, tuple[Any, dict[str, Any], Any, dict[str, str]]], s3: S3Server
) -> None:
    _, _, remote, _ = bucket_corpus["clean"]
    files = resolve_source(remote, storage_options=s3.options).files
    chunks = par.plan_chunks(files, chunk_bytes=1500)
    assert len(chunks) > len(files)
    for chunk in chunks:
        assert isinstance(chunk.path, ObjectPath)
        assert str(chunk.path).startswith("s3://corpus/clean/audit_")
        assert len(pickle.dumps(chunk)) < 600  # a URL, options and two offsets
        assert pickle.loads(pickle.dumps(chunk)).path.options == s3.options


def test_memory_urls_read_like_a_directory(tmp_path: Path) -> None:
    for name in ("altered", "torn", "sealed-then-tampered", "fixture-range", "long-line"):
        directory = tmp_path / name
        source, kwargs = CORPUS[name](directory)
        url = f"memory://fapilog-notebook-tests/{name}"
        to_memory(directory, url)
        local = relocate(
            comparable(verify_audit_log(source, progress=False, **kwargs)), {str(directory): url}
        )
        remote = relocate(str(source), {str(directory): url})
        assert comparable(verify_audit_log(remote, progress=False, **kwargs)) == local, name


@pytest.mark.parametrize("block", [objstore.READ_BLOCK, 64 * 1024, 100_003])
def test_a_serial_verification_fetches_each_byte_once(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    # Small blocks: many range requests, each next one fetched ahead.
    monkeypatch.setattr(objstore, "READ_BLOCK", block)
    log = build_log([400, 500, 300])
    log.files[1].lines[250] = log.files[1].lines[250].replace(b"event", b"EVENT")
    log.write(tmp_path / "t")
    bucket = f"once-{block}"
    s3.bucket(bucket)
    upload(tmp_path / "t", bucket, "t", s3.client)
    size = sum(p.stat().st_size for p in (tmp_path / "t").iterdir())
    before = bytes_fetched()
    report = verify_audit_log(f"s3://{bucket}/t/", storage_options=s3.options, progress=False)
    assert bytes_fetched() - before == size
    local = verify_audit_log(tmp_path / "t", progress=False)
    mapping = {str(tmp_path / "t"): f"s3://{bucket}/t"}
    assert comparable(report) == relocate(comparable(local), mapping)
    assert ("checksum_mismatch", 251) in [(f.kind, f.line) for f in report.finding_list]


def test_storage_options_for_a_local_path_are_refused(tmp_path: Path) -> None:
    build_log([2]).write(tmp_path)
    with pytest.raises(TypeError, match="storage_options apply to URLs"):
        verify_audit_log(tmp_path, storage_options={"key": "x"})


def test_a_missing_bucket_or_object_is_a_clear_error_naming_the_url(s3: S3Server) -> None:
    with pytest.raises(FileNotFoundError) as missing:
        verify_audit_log("s3://no-such-bucket/trail/", storage_options=s3.options)
    assert "s3://no-such-bucket/trail" in str(missing.value)
    s3.bucket("partial")
    s3.client.put_object(Bucket="partial", Key="t/audit_2026-03-01.jsonl", Body=b"")
    with pytest.raises(FileNotFoundError) as gone:
        verify_audit_log(
            ["s3://partial/t/audit_2026-03-01.jsonl", "s3://partial/t/audit_2026-03-02.jsonl"],
            storage_options=s3.options,
        )
    assert "s3://partial/t/audit_2026-03-02.jsonl" in str(gone.value)
    for error in (missing.value, gone.value):
        assert SECRET not in str(error)
        assert SECRET not in repr(error)


def test_a_connection_dropped_mid_verification_is_a_finding_naming_the_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("s3fs")
    import boto3
    from moto.server import ThreadedMotoServer

    from .objstore_helpers import KEY_ID, free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )
    client.create_bucket(Bucket="dropped")
    build_log([5, 6, 4]).write(tmp_path)
    upload(tmp_path, "dropped", "t", client)
    options = {
        "key": KEY_ID,
        "secret": SECRET,
        "endpoint_url": endpoint,
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
    }
    real_run_file = verify_module._Verifier.run_file

    def run_file(self: Any, index: int) -> None:
        if index == 1:
            server.stop()  # the store goes away after the first day file
        real_run_file(self, index)

    monkeypatch.setattr(verify_module._Verifier, "run_file", run_file)
    started = time.monotonic()
    report = verify_audit_log("s3://dropped/t", storage_options=options, progress=False)
    assert time.monotonic() - started < 60  # no hang
    unreadable = [f for f in report.finding_list if f.kind == "unreadable_file"]
    assert [f.file for f in unreadable] == [
        "s3://dropped/t/audit_2026-03-02.jsonl",
        "s3://dropped/t/audit_2026-03-03.jsonl",
    ]
    assert not report.valid
    for text in (report.to_json(), report.format_text(), str(report), repr(report)):
        assert SECRET not in text


def test_an_object_path_never_shows_its_options() -> None:
    where = ObjectPath("s3://bucket/trail/", {"key": "id", "secret": SECRET})
    assert SECRET not in repr(where)
    assert SECRET not in str(where)
    assert where.url == "s3://bucket/trail"
    assert where.name == "trail"
    assert where.parent.url == "s3://bucket"
    error = where.error(RuntimeError(f"signature for {SECRET} did not match"), "cannot read")
    assert SECRET not in str(error)
    assert "s3://bucket/trail" in str(error)


def test_explore_and_compliance_report_read_a_url(s3: S3Server, tmp_path: Path) -> None:
    from fapilog_notebook import explore
    from fapilog_notebook.compliance import compliance_report

    log = build_log([3, 4])
    log.files[0].lines[1] = log.files[0].lines[1].replace(b"event 1", b"event X")
    log.write(tmp_path / "t")
    s3.bucket("explore")
    upload(tmp_path / "t", "explore", "t", s3.client)
    explorer = explore("s3://explore/t", storage_options=s3.options)
    assert len(explorer.frame) == 7
    report = explorer.verify()
    assert report is not None
    assert [(f.kind, f.file, f.line) for f in report.finding_list] == [
        ("checksum_mismatch", "s3://explore/t/audit_2026-03-01.jsonl", 2)
    ]
    review = compliance_report("s3://explore/t", storage_options=s3.options, as_of="2026-03-03")
    assert not review.valid
    assert review.integrity.events_checked == 7
    assert review.sources == ("s3://explore/t",)
    rules = review.sections["retention"].set_index("rule")
    assert rules.loc["object_lock", "status"] == "exceptions"  # a bucket without Object Lock
    assert SECRET not in review.to_json()


def test_days_outside_the_range_are_not_read(s3: S3Server, tmp_path: Path) -> None:
    log = build_log([300, 300, 300, 300])
    log.write(tmp_path / "t")
    s3.bucket("ranged")
    upload(tmp_path / "t", "ranged", "t", s3.client)
    third = (tmp_path / "t" / "audit_2026-03-03.jsonl").stat().st_size
    before = bytes_fetched()
    report = verify_audit_log(
        "s3://ranged/t",
        since="2026-03-03",
        until="2026-03-03",
        storage_options=s3.options,
        progress=False,
    )
    assert report.valid
    assert report.events_checked == 300
    fetched = bytes_fetched() - before
    # The day read whole, and at most one 64 KiB tail block of the day before it.
    assert third < fetched <= third + 64 * 1024


def test_a_denied_read_is_a_clear_error_naming_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto with authorization on: a user without any S3 permission is refused."""
    pytest.importorskip("s3fs")
    import json as json_module

    import boto3
    from moto import settings
    from moto.server import ThreadedMotoServer

    from .objstore_helpers import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        admin = {
            "endpoint_url": endpoint,
            "aws_access_key_id": "AKIAADMINISTRATOR01",
            "aws_secret_access_key": "admin-secret",
            "region_name": "us-east-1",
        }
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="outsider")
        key = iam.create_access_key(UserName="outsider")["AccessKey"]
        iam.put_user_policy(
            UserName="outsider",
            PolicyName="nothing-in-s3",
            PolicyDocument=json_module.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": ["sqs:ListQueues"], "Resource": "*"}
                    ],
                }
            ),
        )
        client = boto3.client("s3", **admin)
        client.create_bucket(Bucket="denied")
        build_log([3, 3]).write(tmp_path)
        upload(tmp_path, "denied", "t", client)
        monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # authorization on
        secret = key["SecretAccessKey"]
        options = {
            "key": key["AccessKeyId"],
            "secret": secret,
            "endpoint_url": endpoint,
            "config_kwargs": {"retries": {"max_attempts": 1}},
        }
        with pytest.raises(PermissionError) as denied:
            verify_audit_log("s3://denied/t", storage_options=options, progress=False)
        assert "s3://denied/t" in str(denied.value)
        assert secret not in str(denied.value)
        assert secret not in repr(denied.value)
    finally:
        server.stop()
