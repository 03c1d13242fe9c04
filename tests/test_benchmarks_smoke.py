"""Smoke tests of the read and keyed benchmarks: each measuring function on a tiny log.

They catch breakage of ``python -m benchmarks`` (an API change, a wrong table)
without timing anything worth reading. fapilog 0.3.5's verifier runs only
where its venv (``benchmarks/.peer-venv``) already exists.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks import __main__ as bench_main
from benchmarks import bench_keyed, bench_verify
from benchmarks.datasets import Dataset, dataset

EVENTS = 300


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Dataset]:
    root = tmp_path_factory.mktemp("bench-data")
    return {
        mode: dataset(EVENTS, days=3, mode=mode, root=root)
        for mode in ("plain", "static", "forward")
    }


def test_dataset_is_one_chain_over_the_days_and_cached(logs: dict[str, Dataset]) -> None:
    plain = logs["plain"]
    assert plain.files == 3
    assert len(plain.file_paths()) == 3
    assert sum(p.stat().st_size for p in plain.file_paths()) == plain.size
    again = dataset(EVENTS, days=3, root=plain.path.parent)
    assert again == plain  # read from the record, not written again
    # The same content in every mode; only the MACs differ.
    assert logs["static"].key is not None
    assert logs["forward"].verification_key is not None


def test_verify_floor_and_load_measure_a_valid_log(logs: dict[str, Dataset]) -> None:
    plain = logs["plain"]
    for measure in (
        bench_verify.time_verify,
        bench_verify.sha256_floor,
        bench_verify.time_load,
        bench_verify.time_pandas_load,
    ):
        seconds, ok, note, _ = measure(plain)
        assert seconds > 0
        assert ok, f"{measure.__name__}: {note}"


def test_peer_verifier_when_its_venv_exists(logs: dict[str, Dataset]) -> None:
    python, why = bench_verify.ensure_peer_venv(create=False)
    if python is None:
        pytest.skip(f"fapilog 0.3.5 peer: {why}")
    seconds, ok, note, extra = bench_verify.peer_verify(python, logs["plain"])
    assert ok, note
    assert extra["events_checked"] == EVENTS
    assert seconds > 0


def test_verify_run_and_tables(logs: dict[str, Dataset]) -> None:
    config = bench_verify.VerifyConfig(
        events=EVENTS,
        days=3,
        repeats=1,
        peer=False,
        data_root=str(logs["plain"].path.parent),
        parts=("chain", "load"),
    )
    data = bench_verify.run(config, report=lambda _: None)
    assert [r["ok"] for r in data["load"]] == [True, True]
    assert data["chain"][0]["ok"] is True
    assert math.isnan(data["chain"][1]["events_per_s"])  # no peer asked for
    assert data["chain"][3]["name"] == bench_verify.OURS_VERIFY_WORKERS
    assert data["chain"][3]["ok"] is True  # the pooled report is valid too
    assert data["chain_verdict"]["met"] is None
    text = bench_verify.markdown(data)
    assert "### Verify" in text
    assert "### Load" in text


def test_memory_probe_of_verifying_in_a_fresh_interpreter(logs: dict[str, Dataset]) -> None:
    probe = bench_verify.memory_probe("verify", logs["plain"].path)
    assert probe["ok"] is True
    assert probe["events"] == EVENTS
    # Started from a small launcher: the peak is this probe's own, not ours.
    assert probe["rss_before"] <= probe["peak_rss"] < 400 * 1024 * 1024


def test_keyed_writing_in_every_mode(tmp_path: Path) -> None:
    for mode in bench_keyed.WRITE_MODES:
        seconds, ok, note, _ = bench_keyed.write_once(mode, 200, 20, str(tmp_path))
        assert ok, f"{mode}: {note}"
        assert seconds > 0


def test_keyed_verifying_or_says_not_available(logs: dict[str, Dataset]) -> None:
    config = bench_keyed.KeyedConfig(
        verify_events=EVENTS,
        days=3,
        repeats=1,
        data_root=str(logs["plain"].path.parent),
        parts=("verify",),
    )
    data = bench_keyed.run(config, report=lambda _: None)
    rows = {r["name"]: r for r in data["verify"]}
    assert rows[bench_keyed.UNKEYED]["ok"] is True
    keyed = rows[bench_keyed.STATIC]
    if data["verify_key_supported"]:
        assert keyed["ok"] is True, keyed["note"]
    else:
        assert keyed["note"] == bench_keyed.NOT_AVAILABLE
        assert "not available yet" in bench_keyed.markdown(data)


def test_benchmarks_are_registered() -> None:
    for name in ("verify.chain", "verify.load", "verify.memory", "keyed.write", "keyed.verify"):
        assert name in bench_main.BENCHMARKS
    assert bench_main._selected(["keyed"]) == ("keyed.write", "keyed.verify")


def test_explore_benchmark_runs_on_a_small_frame() -> None:
    from benchmarks import bench_explore

    data = bench_explore.run(bench_explore.ExploreConfig(events=2_000, repeats=1))
    assert [row["filter"] for row in data["filters"]] == [f[0] for f in bench_explore.FILTERS]
    assert "| event types |" in bench_explore.markdown(data)


def test_objstore_benchmark_on_a_tiny_trail(tmp_path: Path) -> None:
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    from benchmarks import bench_objstore

    data = bench_objstore.run(
        bench_objstore.ObjstoreConfig(events=2000, days=2, repeats=1, data_root=str(tmp_path)),
        report=lambda _: None,
    )
    assert data["valid"]
    assert data["each_byte_once"]
    assert data["bytes_fetched"] == data["bytes"]
    assert data["s3_events_per_s"] > 0
    assert "each byte once" in bench_objstore.markdown(data)


def test_signed_benchmark_measures_valid_trails_and_proofs(tmp_path: Path) -> None:
    from benchmarks import bench_signed

    config = bench_signed.SignedConfig(
        events=400, producers=4, repeats=1, proof_events=400, proofs=3, tmp_root=str(tmp_path)
    )
    data = bench_signed.run(config)
    assert data["verify"]["all_valid"]
    assert data["proof"]["proved"] == 3
    assert data["write"]["signed_vs_unkeyed"] > 0
    assert data["write"]["signed_vs_unkeyed_paired"] > 0
    assert data["verify"]["signed_vs_chain_paired"] > 0
    text = bench_signed.markdown(data)
    assert "signed / unkeyed" in text
    assert "median of the per-round ratios" in text
    assert "inclusion_proof" in text


def test_the_paired_ratio_compares_runs_of_one_round() -> None:
    """A machine that slows down between rounds moves both rows of a round alike."""
    from benchmarks import bench_signed
    from benchmarks.harness import Runs

    base, other = Runs("base"), Runs("other")
    base.seconds = [1.0, 2.0, 4.0]  # the machine halves its speed each round
    other.seconds = [1.1, 2.2, 4.4]
    assert bench_signed._paired(base, other) == pytest.approx(1.1)
    # The ratio of the bests pairs round 1 with round 1 here, but would not if
    # the base's best fell in a fast moment the other row did not see.
    base.seconds = [0.5, 2.0, 4.0]
    assert bench_signed._paired(base, other) == pytest.approx(1.1)
    assert min(other.seconds) / min(base.seconds) == pytest.approx(2.2)
