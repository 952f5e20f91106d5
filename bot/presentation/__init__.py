"""The neutral presentation of everything the bot shows (`model`), its wording (`words`), the light Markdown of
answers (`markup`), and the builders that turn the core's items into it (`answer`, `approval`, `handoff`).
Renderers (`bot/slack/render.py`, `bot/teams/render.py`, `bot/web/render.py`, `bot/cli/render.py`) lay it out."""
