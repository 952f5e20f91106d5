"""`python -m bench.scenarios`: the golden scenarios' run time (scenarios per second) offline and with a model on
the local fake OpenAI server, and the pass rates, through `supportbot eval scenarios` on a fresh embedded server.

The fake server answers every chat request with "OK": no routing tool call (the offline router decides) and no
usable draft (the passages are quoted), so the model mode measures the cost of the model calls themselves.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAI

REPO = Path(__file__).resolve().parent.parent


def run(home: Path, extra: dict[str, str], runs: int) -> dict[str, object]:
    env = {**os.environ, "SUPPORTBOT_HOME": str(home), "HF_HUB_OFFLINE": "1", "LOG_LEVEL": "WARNING", **extra}
    env.pop("DATABASE_URL", None)
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from bot.cli import main; main()",
            "eval",
            "scenarios",
            "examples/scenarios",
            "--docs",
            "examples/acme",
            "--runs",
            str(runs),
            "--json",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"eval scenarios failed ({done.returncode}): {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scenarios", description=__doc__)
    parser.add_argument("--runs", type=int, default=1, help="attempts per scenario (pass^k)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-scenarios-") as folder:
        offline = run(Path(folder) / "offline", {}, args.runs)
        fake = FakeOpenAI().start()
        try:
            model = run(
                Path(folder) / "model",
                {
                    "LLM_BASE_URL": fake.base_url,
                    "LLM_API_KEY": "sk-bench",
                    "LLM_MODEL": "gpt-bench",
                    "LLM_MAX_RETRIES": "0",
                },
                args.runs,
            )
        finally:
            fake.stop()
    print("| run | mode | scenarios | pass rate | pass^k | seconds | scenarios/s | whole command (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, report in (("offline", offline), ("with the fake model", model)):
        for mode in report["modes"]:  # type: ignore[attr-defined]
            k = mode["runs"]
            print(
                f"| {name} | {mode['mode']} | {mode['scenarios']} | {mode['pass_rate']:.3f} | {mode[f'pass^{k}']:.3f} "
                f"| {mode['seconds']:.1f} | {mode['scenarios_per_second']:.2f} | {report['wall_seconds']} |"
            )
            for failure in mode["failures"]:
                print(
                    f"|  | failed: {failure['scenario']} | {failure['step']} | {failure['expectation']} |  |  |  |  |"
                )


if __name__ == "__main__":
    main()
