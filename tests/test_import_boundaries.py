"""The packages table in DESIGN.md: who may import whom, and where vendor SDKs may appear."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
OURS = {"bot", "handlers", "knowledge", "escalation", "scheduler"}
ALLOWED = {
    "bot": OURS,
    "scheduler": {"scheduler", "handlers", "knowledge", "escalation"},
    "handlers": {"handlers", "knowledge", "escalation"},
    "escalation": {"escalation"},
    "knowledge": {"knowledge"},
}
# the core may trace with the OpenTelemetry API; choosing the SDK, an exporter or a metrics back end is bot's
VENDOR_ONLY_IN_BOT = (
    "slack_bolt",
    "slack_sdk",
    "botbuilder",
    "openai",
    "aiohttp.web",
    "opentelemetry.sdk",
    "opentelemetry.exporter",
    "prometheus_client",
)
# The sample company's back end is the demo's, not the product's: the composition root registers it (only with
# DEMO_BACKEND on), scenario runs act on it by design, and the demo player (bot/demo/) owns it. Nothing else.
SAMPLE_COMPANY = "bot.demo.backend"
MAY_USE_SAMPLE_COMPANY = ("bot/demo/", "bot/executors.py", "bot/core_factory.py", "bot/scenario_eval.py")


# The renderers: one per platform, each turning the neutral presentation into its platform's format. Each may
# import only the presentation, the standard library and its platform's own SDK; whatever a card says comes from
# the presentation, so a renderer has nothing else to read. The presentation is `bot.presentation` for answers,
# cards and notices, and the digest's model, figures and words for the weekly digest.
PRESENTATION = ("bot.presentation",)
DIGEST = ("scheduler.digest.model", "scheduler.digest.format", "scheduler.digest.words")
RENDERERS = {
    "bot/slack/render.py": ("slack_sdk",),  # Block Kit
    "bot/teams/render.py": ("botbuilder",),  # Adaptive Cards
    "bot/web/render.py": ("jinja2", "markupsafe"),  # the playground's HTML
    "bot/cli/render.py": ("rich",),  # the terminal chat
    "bot/slack/digest_render.py": ("slack_sdk", *DIGEST),
    "bot/teams/digest_render.py": ("botbuilder", *DIGEST),
}


def imports_of(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """(module, names imported from it) for every absolute import."""
    found: list[tuple[str, tuple[str, ...]]] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, tuple(alias.name for alias in node.names)))
    return found


def violations(package: str, root: Path = REPO) -> list[str]:
    found = []
    for path in sorted((root / package).rglob("*.py")):
        for module, names in imports_of(path):
            top = module.split(".")[0]
            if top in OURS and top not in ALLOWED[package]:
                found.append(f"{path.relative_to(root)} imports {module}")
            # `from aiohttp import web` reaches aiohttp.web just as `import aiohttp.web` does
            for reached in (module, *(f"{module}.{name}" for name in names)):
                if package != "bot" and any(reached == v or reached.startswith(v + ".") for v in VENDOR_ONLY_IN_BOT):
                    found.append(f"{path.relative_to(root)} imports vendor SDK {reached}")
    return found


def sample_company_users(root: Path = REPO) -> list[str]:
    found = []
    for package in sorted(OURS):
        for path in sorted((root / package).rglob("*.py")):
            where = path.relative_to(root).as_posix()
            if where.startswith(MAY_USE_SAMPLE_COMPANY):
                continue
            for module, names in imports_of(path):
                reached = (module, *(f"{module}.{name}" for name in names))
                if any(r == SAMPLE_COMPANY or r.startswith(SAMPLE_COMPANY + ".") for r in reached):
                    found.append(f"{where} imports {SAMPLE_COMPANY}")
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_follow_the_design(package: str) -> None:
    assert violations(package) == []


def test_the_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "knowledge" / "leak.py").write_text("from bot.settings import Settings\nfrom aiohttp import web\n")
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "core.py").write_text("import slack_sdk\nfrom knowledge.search import x\n")
    (tmp_path / "escalation").mkdir()
    (tmp_path / "escalation" / "traced.py").write_text(
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "import prometheus_client\n"
    )
    assert violations("knowledge", tmp_path) == [
        "knowledge/leak.py imports bot.settings",
        "knowledge/leak.py imports vendor SDK aiohttp.web",
    ]
    assert violations("escalation", tmp_path) == [
        "escalation/traced.py imports vendor SDK opentelemetry.sdk.trace",
        "escalation/traced.py imports vendor SDK opentelemetry.sdk.trace.TracerProvider",
        "escalation/traced.py imports vendor SDK prometheus_client",
    ]
    assert violations("handlers", tmp_path) == ["handlers/core.py imports vendor SDK slack_sdk"]


def renderer_violations(path: str, allowed: tuple[str, ...], root: Path = REPO) -> list[str]:
    """`allowed`: the platform's SDK (and for the digest, its model's modules) beside the presentation."""

    def may(reached: str) -> bool:
        top = reached.split(".", maxsplit=1)[0]
        return (
            top == "__future__"
            or top in sys.stdlib_module_names
            or any(reached == ok or reached.startswith(ok + ".") for ok in (*PRESENTATION, *allowed))
        )

    found = []
    for module, names in imports_of(root / path):
        # `from scheduler.digest import words` reaches scheduler.digest.words, not the whole package
        if not (may(module) or (names and all(may(f"{module}.{name}") for name in names))):
            found.append(f"{path} imports {module}")
    return found


@pytest.mark.parametrize("path", sorted(RENDERERS))
def test_renderers_import_only_the_presentation_and_their_platform(path: str) -> None:
    assert (REPO / path).is_file(), f"{path} is listed as a renderer but does not exist"
    assert renderer_violations(path, RENDERERS[path]) == []


def test_the_checker_catches_a_renderer_that_reads_the_core(tmp_path: Path) -> None:
    (tmp_path / "bot" / "teams").mkdir(parents=True)
    (tmp_path / "bot" / "teams" / "render.py").write_text(
        "from __future__ import annotations\n"
        "from datetime import datetime\n"
        "import botbuilder.schema\n"
        "from bot.presentation import words\n"
        "from bot.presentation.model import ApprovalCard\n"
        "from escalation.models import ApprovalState\n"
        "from bot.slack.render import section\n"
        "import jinja2\n"
    )
    assert renderer_violations("bot/teams/render.py", ("botbuilder",), tmp_path) == [
        "bot/teams/render.py imports escalation.models",
        "bot/teams/render.py imports bot.slack.render",
        "bot/teams/render.py imports jinja2",
    ]


def test_only_the_composition_root_scenario_runs_and_the_demo_use_the_sample_company() -> None:
    assert sample_company_users() == []


def test_the_checker_catches_the_sample_company_used_elsewhere(tmp_path: Path) -> None:
    for where, text in {
        "bot/web/playground.py": "from bot.demo.backend import DemoBackend\n",
        "bot/cli/run.py": "from bot.demo import backend\n",
        "handlers/scenario_run.py": "import bot.demo.backend.queries\n",
        "bot/executors.py": "from bot.demo.backend import DemoBackend\n",
        "bot/demo/player.py": "from bot.demo.backend.executor import DemoBackend\n",
        "bot/demo/store.py": "from bot.demo import store\n",
    }.items():
        (tmp_path / where).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / where).write_text(text)
    assert sample_company_users(tmp_path) == [
        "bot/cli/run.py imports bot.demo.backend",
        "bot/web/playground.py imports bot.demo.backend",
        "handlers/scenario_run.py imports bot.demo.backend",
    ]


def _module_of(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root).parent.parts)


def cli_imports(root: Path = REPO) -> dict[str, set[str]]:
    """Each module of bot/cli and the modules of bot/cli it imports, lazy and relative imports included (not the
    parent package a submodule loads first: every package has that edge, and bot/cli/__init__.py imports the
    assembling module only when `main` runs)."""
    modules = {_module_of(path, root): path for path in sorted((root / "bot" / "cli").rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        reached: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _package_of(path, root).split(".")
                prefix = ".".join(base[: len(base) - node.level + 1]) if node.level else ""
                module = ".".join(part for part in (prefix, node.module or "") if part)
                # `from bot.cli import db` imports the module db; the package itself only for a name defined in it
                targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in node.names]
            else:
                continue
            reached |= {target for target in targets if target in modules and target != name}
        graph[name] = reached
    return graph


def circles(graph: dict[str, set[str]]) -> list[str]:
    """Every import circle, each once, as `a → b → a`."""
    found: set[tuple[str, ...]] = set()

    def visit(module: str, trail: list[str]) -> None:
        for target in sorted(graph[module]):
            if target in trail:
                loop = trail[trail.index(target) :]
                start = loop.index(min(loop))
                found.add(tuple(loop[start:] + loop[:start]))
            else:
                visit(target, [*trail, target])

    for module in sorted(graph):
        visit(module, [module])
    return [" → ".join([*loop, loop[0]]) for loop in sorted(found)]


def test_the_command_line_has_no_import_circle() -> None:
    """Command groups share bot/cli/common.py (and the chat its renderer, bot/cli/render.py, which imports nothing
    of bot/cli); only bot/cli/commands.py imports the groups."""
    graph = cli_imports()
    assert circles(graph) == []
    shared = {"bot.cli.common", "bot.cli.render"}
    groups = set(graph) - {"bot.cli", "bot.cli.commands", *shared}
    assert {group: graph[group] - shared for group in groups} == {group: set() for group in groups}
    assert graph["bot.cli.render"] == set()


def test_the_circle_check_catches_a_circle(tmp_path: Path) -> None:
    cli = tmp_path / "bot" / "cli"
    (cli / "eval").mkdir(parents=True)
    (cli / "__init__.py").write_text("def main() -> None:\n    from bot.cli.commands import build_app\n")
    (cli / "commands.py").write_text("from bot.cli import db\nfrom bot.cli.eval import answers\n")
    (cli / "common.py").write_text("import typer\n")
    (cli / "db.py").write_text("from bot.cli.common import run_async\nfrom bot.cli import main\n")
    (cli / "eval" / "__init__.py").write_text("")
    (cli / "eval" / "answers.py").write_text("from ..commands import build_app\n")
    assert circles(cli_imports(tmp_path)) == [
        "bot.cli → bot.cli.commands → bot.cli.db → bot.cli",
        "bot.cli.commands → bot.cli.eval.answers → bot.cli.commands",
    ]


# What a console page shows is read without web code, so a view can be called (and tested) like any use case
WEB_ONLY = ("aiohttp", "aiohttp_jinja2", "aiohttp_session", "jinja2", "bot.web")
CONSOLE_VIEWS = "bot/web/console/views"


def console_view_violations(root: Path = REPO) -> list[str]:
    found = []
    for path in sorted((root / CONSOLE_VIEWS).rglob("*.py")):
        for module, _ in imports_of(path):
            if module.startswith("bot.web.console.views"):
                continue
            if any(module == web or module.startswith(web + ".") for web in WEB_ONLY):
                found.append(f"{path.relative_to(root)} imports {module}")
    return found


def test_console_views_hold_no_web_code() -> None:
    assert console_view_violations() == []


def test_the_checker_catches_web_code_in_a_console_view(tmp_path: Path) -> None:
    views = tmp_path / CONSOLE_VIEWS
    views.mkdir(parents=True)
    (views / "leak.py").write_text(
        "from aiohttp import web\nfrom bot.web.context import console\nfrom bot.web.console.views.audit import x\n"
    )
    assert console_view_violations(tmp_path) == [
        f"{CONSOLE_VIEWS}/leak.py imports aiohttp",
        f"{CONSOLE_VIEWS}/leak.py imports bot.web.context",
    ]
