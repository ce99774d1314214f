"""`make loadtest`, small: the service under concurrent clients on loopback, and its audit."""
import pytest

from bench import loadtest


@pytest.mark.slow
def test_a_small_load_is_all_graded_once_and_measured(tmp_path):
    """With 12 uploads from 6 concurrent clients that follow their attempts, is every upload
    accepted, graded once and stored byte for byte, and are latency, time to feedback,
    throughput and peak memory all measured?"""
    pace = loadtest.Pace(spread_s=2.0, poll_s=0.5, think_s=(0.0, 0.5))
    r = loadtest.run_load(tmp_path, n=12, clients=6, lanes=2, batch=False, pace=pace)
    a = r["audit"]
    assert a["accepted"] == a["rows"] == 12 and r["refused"] == []
    assert not (a["lost"] or a["graded_twice"] or a["not_graded"] or a["bytes_differ"] or a["missing_reports"]), a
    assert 0 < r["upload_latency_s"]["p50"] <= r["upload_latency_s"]["p95"]
    assert 0 < r["upload_server_ms"]["p50"] and r["time_to_feedback_s"]["p50"] > 0
    assert r["feedback_seen_s"]["p50"] >= r["time_to_feedback_s"]["p50"] * 0.5
    assert r["service_per_minute"] > 0 and r["peak_memory"]["pss_mb"] > 0 and r["peak_memory"]["processes"] >= 3
    assert "12 uploads from 6 concurrent clients" in loadtest.table(r)
