"""The benchmark scripts still run (tiny sizes). No timing is asserted: benchmarks report ratios."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_card_actions_benchmark_runs_against_beacon_and_the_baseline():
    out = run("bench.card_actions", "--users", "2", "--seconds", "1", "--rounds", "1", "--history", "5",
              "--name", "card_actions-smoke")
    assert "throughput ratio" in out
    result = json.loads((ROOT / "bench" / "results" / "card_actions-smoke.json").read_text())
    assert result["beacon"]["requests"] > 0 and result["baseline"]["requests"] > 0
    assert result["beacon"]["errors"] == 0 and result["baseline"]["errors"] == 0, result["beacon"]["first_errors"]
    assert result["drained"], result["drain_seconds"]  # each round started with Beacon's outbox empty


def test_card_actions_refuses_more_users_than_the_bench_team_names():
    result = subprocess.run([sys.executable, "-m", "bench.card_actions", "--users", "101"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "the bench team has 1 to 100 responders" in result.stderr


def test_footprint_benchmark_runs():
    out = run("bench.footprint", "--incidents", "50", "--open", "5", "--settle", "0.1")
    result = json.loads((ROOT / "bench" / "results" / "footprint.json").read_text())
    served = result["beacon_50_incidents_after_metrics_and_report"]["served_s"]
    assert set(served) == {"install", "metrics_command", "metrics_scrape", "report_html", "report_pdf"}, out


def test_schedule_benchmark_runs_and_fires_each_update_once():
    out = run("bench.schedule", "--incidents", "20", "--cadence", "2", "--seconds", "6", "--idle-seconds", "1",
              "--warmup", "4")
    result = json.loads((ROOT / "bench" / "results" / "schedule.json").read_text())
    assert result["fired"] >= 20 and result["duplicates"] == 0, out


def test_alert_storm_benchmark_accepts_every_alert_and_deduplicates_exactly():
    out = run("bench.alert_storm", "--alerts", "120", "--fingerprints", "6", "--concurrency", "4", "--rounds", "2",
              "--post-wait", "60", "--name", "alert_storm-smoke")
    result = json.loads((ROOT / "bench" / "results" / "alert_storm-smoke.json").read_text())
    assert result["correct"], out
    assert result["beacon"]["requests"] == result["floor"]["requests"] == 120
    assert result["beacon"]["errors"] == result["floor"]["errors"] == 0
    # each round's ratio, the first (every declaration) apart from the repeats after it
    assert len(result["round_ratios"]) == 2 and all(r > 0 for r in result["round_ratios"]), out
    assert "by round" in out
    stored = result["stored"]
    assert stored["incidents"] == 6 and stored["wrong_count_total"] == 0 and stored["receipts"] == 120
    # each incident's card reached the fake Teams, timed from the commit that opened it
    first_post = result["commit_to_first_post"]
    assert first_post["incidents"] == first_post["posted"] == 6 and first_post["not_posted"] == 0, out
    assert 0 < first_post["p50_ms"] <= first_post["p99_ms"] <= first_post["max_ms"], out
    assert "commit to first post" in out
    # each incident paged its on-call person by SMS through the fake Twilio, once, timed the same way
    first_page = result["commit_to_first_page"]
    assert first_page["incidents"] == first_page["paged"] == 6 and first_page["not_paged"] == 0, out
    assert first_page["messages"] == 6, out
    assert 0 < first_page["p50_ms"] <= first_page["p99_ms"] <= first_page["max_ms"], out
    either = result["commit_to_first_page_or_post"]
    assert either["incidents"] == 6 and either["max_ms"] <= min(first_page["max_ms"], first_post["max_ms"]), out
    assert "commit to first page or post" in out


def test_scaling_benchmark_compares_two_sizes():
    out = run("bench.scaling", "--quick", "--sizes", "5", "20", "--benches", "alert_storm,footprint",
              "--storm-alerts", "60", "--storm-fingerprints", "3", "--name", "scaling-smoke")
    result = json.loads((ROOT / "bench" / "results" / "scaling-smoke.json").read_text())
    assert result["sizes"] == [5, 20] and set(result["results"]) == {"alert_storm", "footprint"}, out
    for metrics in result["results"].values():
        for metric in metrics.values():
            assert metric["verdict"] in ("flat", "linear", "worse than linear") and metric["growth"] > 0


def test_metrics_benchmark_asks_metrics_while_probing_healthz_and_times_the_triggers():
    out = run("bench.metrics", "--incidents", "50", "--requests", "3", "--changes", "8", "--name", "metrics-smoke")
    result = json.loads((ROOT / "bench" / "results" / "metrics-smoke.json").read_text())
    assert result["results"]["50"]["metrics"]["requests"] == 3, out
    assert result["results"]["50"]["healthz"]["requests"] > 0, out
    assert result["results"]["50"]["chat"]["requests"] == 3, out  # @Beacon metrics, each card seen posted
    assert result["results"]["50"]["chat_healthz"]["requests"] > 0, out
    assert "@Beacon metrics" in out, out
    writes = result["results"]["50"]["writes"]
    assert writes["changes"] == 8 and writes["with_triggers_s"] > 0 and writes["without_triggers_s"] > 0, out


def test_pacing_turn_benchmark_runs():
    run("bench.pacing_turn", "--sends", "10", "--waiting", "3", "--repeat", "1", "--database", "sqlite",
        "--name", "pacing_turn-smoke")
    result = json.loads((ROOT / "bench" / "results" / "pacing_turn-smoke.json").read_text())
    assert [(row["database"], row["sends"], row["waiting"]) for row in result["turns"]] == [("sqlite", 10, 3)]
