"""Prompt templates: versioned files with an owner, so every decision record names the exact template."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from handlers.errors import HandlersError
from knowledge.frontmatter import split_front_matter


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    owner: str
    text: str

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def render(self, **values: str) -> str:
        return self.text.format(**values)


def load_prompt(name: str) -> PromptTemplate:
    try:
        raw = (resources.files("handlers") / "prompts" / f"{name}.md").read_text("utf-8")
    except FileNotFoundError:
        raise HandlersError(f"no prompt template named {name}") from None
    meta, body = split_front_matter(raw)
    missing = [key for key in ("version", "owner") if not meta.get(key)]
    if missing:
        raise HandlersError(f"prompt template {name} has no {' or '.join(missing)} in its front matter")
    return PromptTemplate(name, str(meta["version"]), str(meta["owner"]), body.strip() + "\n")


def template_owners() -> dict[str, str | None]:
    """Every prompt template shipped in handlers/prompts/ and the owner its front matter names (None: none)."""
    owners: dict[str, str | None] = {}
    for entry in sorted((resources.files("handlers") / "prompts").iterdir(), key=lambda entry: entry.name):
        if entry.name.endswith(".md"):
            meta, _ = split_front_matter(entry.read_text("utf-8"))
            owner = str(meta.get("owner") or "").strip()
            owners[entry.name.removesuffix(".md")] = owner or None
    return owners
