"""Reads scenario files (YAML): every mistake is reported as file:line: field: what is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from escalation.policy import nearest_line, yaml_line_index
from handlers.errors import HandlersError
from handlers.scenario_model import Scenario, ScenarioFile

SUFFIXES = (".yaml", ".yml")
_STEP_TAGS = frozenset({"customer", "staff_says", "staff"})


class ScenarioFileError(HandlersError):
    """One or more scenario files are wrong; `problems` holds one `file:line: field: message` each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class LoadedScenario:
    scenario: Scenario
    source: str  # file:line of the scenario, for reports


def scenario_files(paths: list[Path]) -> list[Path]:
    """The YAML files among `paths`, folders searched recursively, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise ScenarioFileError([f"{path}: no such file or folder"])
    return found


def load_scenarios(paths: list[Path]) -> list[LoadedScenario]:
    """Every scenario under `paths`; raises `ScenarioFileError` naming each problem of every file."""
    loaded: list[LoadedScenario] = []
    problems: list[str] = []
    files = scenario_files(paths)
    if not files:
        raise ScenarioFileError([f"no scenario files (*.yaml) in {', '.join(map(str, paths))}"])
    for file in files:
        try:
            loaded += parse_scenarios(file.read_text("utf-8"), source=str(file))
        except ScenarioFileError as exc:
            problems += exc.problems
        except OSError as exc:
            problems.append(f"{file}: cannot read ({exc.strerror})")
    seen: dict[str, str] = {}
    for item in loaded:
        if item.scenario.id in seen:
            problems.append(f"{item.source}: id: {item.scenario.id} is also the id of {seen[item.scenario.id]}")
        seen.setdefault(item.scenario.id, item.source)
    if problems:
        raise ScenarioFileError(problems)
    return loaded


def parse_scenarios(text: str, *, source: str) -> list[LoadedScenario]:
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ScenarioFileError([f"{source}{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})"]) from None
    if not isinstance(data, dict):
        raise ScenarioFileError([f"{source}:1: expected a scenario (a mapping with id and turns) or `scenarios:`"])
    lines = yaml_line_index(node)
    model: type[BaseModel] = ScenarioFile if "scenarios" in data else Scenario
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise ScenarioFileError(
            [
                f"{source}:{_line_of(lines, error['loc'])}: {_field(error['loc'])}: {error['msg']}"
                for error in exc.errors()
            ]
        ) from None
    if isinstance(parsed, ScenarioFile):
        return [
            LoadedScenario(scenario, f"{source}:{lines.get(('scenarios', str(i)), 1)}")
            for i, scenario in enumerate(parsed.scenarios)
        ]
    assert isinstance(parsed, Scenario)
    return [LoadedScenario(parsed, f"{source}:1")]


def _in_file(loc: tuple[int | str, ...]) -> tuple[str, ...]:
    """The error's location as written in the file. pydantic puts the chosen tag of a step (`customer`,
    `staff_says`, `staff`) right after the step's index; it names the step's kind, not a key of it."""
    parts = [str(part) for part in loc]
    return tuple(part for i, part in enumerate(parts) if not (i and parts[i - 1].isdigit() and part in _STEP_TAGS))


def _line_of(lines: dict[tuple[str, ...], int], loc: tuple[int | str, ...]) -> int:
    return nearest_line(lines, _in_file(loc))


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(_in_file(loc)) or "(top)"
