from __future__ import annotations

from pathlib import Path


def write_doc(
    folder: Path,
    name: str,
    body: str,
    *,
    title: str | None = None,
    org: str | None = None,
    owner: str | None = "docs@acme.example",
    review_by: str | None = "2099-01-01",
) -> Path:
    lines = ["---"]
    if title:
        lines.append(f"title: {title}")
    if org:
        lines.append(f"org: {org}")
    if owner:
        lines.append(f"owner: {owner}")
    if review_by:
        lines.append(f"review_by: {review_by}")
    lines.append("---")
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n" + body, encoding="utf-8")
    return path
