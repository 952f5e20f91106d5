"""`supportbot run` answers turns in worker processes: their counts reach the web process's /metrics."""

from __future__ import annotations

import subprocess
import sys

from prometheus_client.parser import text_string_to_metric_families

WEB_PROCESS = """
import subprocess, sys
from bot.metrics import counted, metrics, use_multiprocess_dir
use_multiprocess_dir(fresh=True)  # as `supportbot run` does before it starts its workers
worker = (
    "from bot.metrics import metrics, use_multiprocess_dir; use_multiprocess_dir(fresh=False); "
    "metrics().turn_seconds.labels('refund', 'proposed').observe(0.25)"
)
subprocess.run([sys.executable, "-c", worker], check=True)
metrics().events_received.labels("slack").inc()
sys.stdout.write(counted().decode())
"""


def test_a_worker_processs_counts_reach_the_web_processs_metrics() -> None:
    result = subprocess.run([sys.executable, "-c", WEB_PROCESS], capture_output=True, text=True, check=True, timeout=60)
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(result.stdout)
        for sample in family.samples
    }
    assert samples[("supportbot_turn_seconds_count", (("outcome", "proposed"), ("workflow", "refund")))] == 1
    assert samples[("supportbot_turn_seconds_sum", (("outcome", "proposed"), ("workflow", "refund")))] == 0.25
    assert samples[("supportbot_events_received_total", (("platform", "slack"),))] == 1
