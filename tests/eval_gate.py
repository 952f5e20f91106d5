"""The quality floors `make test` holds the code to: figures of `eval retrieval` and `eval routing` on the
development sets in ../shared/eval (beside the clone), against tests/eval_floors.json.

Only development splits are read: kbqa-dev's questions, clinc150-dev's train and validation files and
banking77-dev's train file. No file labelled test is opened. EVAL_FLOORS_WRITE=1 rewrites the floors from
the figures measured now (with today's date and the commit measured), instead of checking them.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from knowledge.evaluation import Question

REPO = Path(__file__).resolve().parent.parent
EVAL_DATA = REPO.parent / "shared" / "eval"
FLOORS = REPO / "tests" / "eval_floors.json"
ROUTING_FOLDS = 5

# How far below today's figure a change may go before the gate fails: about two questions or three lines,
# so that a different BLAS or CPU flipping one near-tie does not fail a build, and a real regression does.
TOLERANCE = {"retrieval": 0.008, "routing": 0.004}

# Embedding the documents is most of the cost (125 long documents: tens of seconds of CPU), so the gate
# loads a fixed subset: every document a question asks for, and as many others, the first by name.
GATE_DISTRACTORS = 25

SPLITS = {
    "retrieval kbqa-dev": f"kbqa-dev: all 250 questions over their 25 documents and the first {GATE_DISTRACTORS} "
    "others by name (50 of 125)",
    "routing clinc150-dev": "clinc150-dev: fit on train.jsonl, threshold chosen on validation.jsonl's out-of-scope "
    "lines and held-out intents' lines of train.jsonl and validation.jsonl, scored on validation.jsonl",
    "routing banking77-dev": f"banking77-dev: {ROUTING_FOLDS}-fold cross-validation on train.jsonl",
}


@dataclass(frozen=True)
class Floor:
    name: str
    measured: float
    floor: float
    split: str
    date: str
    commit: str


def eval_data() -> Path:
    """../shared/eval beside the repository, as CI lays it out; a missing one is a failed gate, not a skip."""
    if not (EVAL_DATA / "kbqa-dev" / "questions.jsonl").is_file():
        raise AssertionError(
            f"the development sets are not at {EVAL_DATA}: the evaluation gate needs ../shared/eval beside the clone"
        )
    return EVAL_DATA


def gate_documents(data: Path, questions: list[Question], into: Path) -> Path:
    """Links the gate's fixed subset of kbqa-dev's documents into `into`; returns it."""
    gold = {doc for question in questions for doc in question.gold}
    files = sorted((data / "docs").iterdir())
    others = [path for path in files if path.stem not in gold][:GATE_DISTRACTORS]
    into.mkdir(parents=True, exist_ok=True)
    for path in [*(path for path in files if path.stem in gold), *others]:
        (into / path.name).symlink_to(path)
    return into


def load_floors(path: Path = FLOORS) -> dict[str, Floor]:
    rows = json.loads(path.read_text("utf-8"))["figures"]
    return {row["name"]: Floor(**row) for row in rows}


def below_floors(floors: dict[str, Floor], measured: dict[str, float], *, prefix: str) -> list[str]:
    """One sentence per figure under `prefix` that fell below its floor or was not measured at all."""
    problems = []
    for name, floor in sorted(floors.items()):
        if not name.startswith(prefix):
            continue
        if name not in measured:
            problems.append(f"{name}: has a floor but was not measured")
        elif measured[name] < floor.floor:
            problems.append(
                f"{name}: {measured[name]:.4f} is below its floor {floor.floor:.4f} "
                f"({floor.measured:.4f} measured on {floor.date} at {floor.commit}; {floor.split})"
            )
    problems += [f"{name}: measured but has no floor" for name in sorted(measured) if name not in floors]
    return problems


def write_floors(measured: dict[str, float], *, prefix: str, path: Path = FLOORS) -> None:
    """Replace the floors under `prefix` with today's figures less the tolerance; keep the others."""
    floors = load_floors(path) if path.exists() else {}
    today = datetime.now(UTC).date().isoformat()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    kept = {name: floor for name, floor in floors.items() if not name.startswith(prefix)}
    for name, value in measured.items():
        kind = name.split(" ", 1)[0]
        split = next(text for key, text in SPLITS.items() if name.startswith(key))
        kept[name] = Floor(name, value, round(value - TOLERANCE[kind], 4), split, today, commit)
    rows = [vars(kept[name]) for name in sorted(kept)]
    about = (
        "Quality floors checked by tests/integration/test_eval_floors.py (see tests/eval_gate.py). "
        "Rewrite with EVAL_FLOORS_WRITE=1 only when a change is meant to move a figure, and say why in the commit."
    )
    path.write_text(json.dumps({"about": about, "figures": rows}, indent=2) + "\n", "utf-8")


def writing() -> bool:
    return os.environ.get("EVAL_FLOORS_WRITE") == "1"
