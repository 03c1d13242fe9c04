"""The command line on object storage: --storage-option, verify/report/anchor on URLs, ship."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from fapilog_notebook.cli import _storage_option, main

from .logbuilder import build_log
from .objstore_helpers import KEY_ID, SECRET, S3Server, s3, upload
from .test_ship import KEY, _writer_trail

__all__ = ["s3"]  # the fixture used here


def _options(s3: S3Server) -> list[str]:
    return [
        "--storage-option",
        f"key={KEY_ID}",
        "--storage-option",
        f"secret={SECRET}",
        "--storage-option",
        f"endpoint_url={s3.endpoint}",
    ]


def test_storage_options_are_typed_and_nest() -> None:
    assert _storage_option("anon=true") == (["anon"], True)
    assert _storage_option("default_block_size=1048576") == (["default_block_size"], 1048576)
    assert _storage_option("client_kwargs.region_name=eu-west-1") == (
        ["client_kwargs", "region_name"],
        "eu-west-1",
    )
    assert _storage_option("secret=123456") == (["secret"], "123456")  # credentials stay text
    with pytest.raises(argparse.ArgumentTypeError) as bad:
        _storage_option(SECRET)
    assert SECRET not in str(bad.value)


def test_verify_a_bucket_from_the_command_line(
    s3: S3Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = build_log([4, 5])
    log.files[1].lines[2] = log.files[1].lines[2].replace(b"event 6", b"event X")
    log.write(tmp_path / "t")
    s3.bucket("cli-verify")
    upload(tmp_path / "t", "cli-verify", "t", s3.client)
    assert main(["verify", "s3://cli-verify/t/", "--no-progress", *_options(s3)]) == 1
    out, err = capsys.readouterr()
    assert "audit_2026-03-02.jsonl:3" in out
    assert SECRET not in out + err
    code = main(["verify", "s3://cli-verify/t/", "--format", "json", *_options(s3)])
    out, err = capsys.readouterr()
    assert code == 1
    assert '"file": "s3://cli-verify/t/audit_2026-03-02.jsonl"' in out
    assert SECRET not in out + err


def test_a_missing_bucket_is_a_usage_error_naming_the_url_not_the_secret(
    s3: S3Server, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "s3://cli-nowhere/t/", "--no-progress", *_options(s3)]) == 2
    out, err = capsys.readouterr()
    assert "s3://cli-nowhere/t" in err
    assert SECRET not in out + err


def test_ship_from_the_command_line_with_object_lock(
    s3: S3Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trail = _writer_trail(tmp_path / "trail")
    s3.bucket("cli-ship", lock=True)
    args = ["ship", str(trail), "s3://cli-ship/a", "--object-lock", "7", *_options(s3)]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "2 days uploaded and verified, 0 unchanged" in out
    assert "Object Lock (compliance) until" in out
    assert SECRET not in out + err
    head = s3.client.head_object(Bucket="cli-ship", Key="a/audit_2026-03-31.jsonl")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert main(args) == 0
    out, _ = capsys.readouterr()
    assert "0 days uploaded and verified, 2 unchanged" in out

    assert main(
        ["anchor", "s3://cli-ship/a", "--key-file", str(_key_file(tmp_path)), *_options(s3)]
    ) in (0, 1)
    out, err = capsys.readouterr()
    assert '"sequence_number": 8' in out
    assert SECRET not in out + err


def _key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key.hex"
    path.write_text(KEY.hex())
    return path


def test_ship_refuses_a_local_destination(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trail = _writer_trail(tmp_path / "trail")
    assert main(["ship", str(trail), str(tmp_path / "copy")]) == 2
    assert "destination must be a URL" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["ship", str(trail), "memory://x/y", "--object-lock", "0"])


def test_report_on_a_bucket(
    s3: S3Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trail = _writer_trail(tmp_path / "trail")
    s3.bucket("cli-report")
    main(["ship", str(trail), "s3://cli-report/t", "--include-open", *_options(s3)])
    capsys.readouterr()
    json_out = tmp_path / "report.json"
    code = main(
        ["report", "s3://cli-report/t", "--json", str(json_out), "--no-progress", *_options(s3)]
    )
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    assert SECRET not in out + err + json_out.read_text()
    assert "object_lock" in json_out.read_text()
