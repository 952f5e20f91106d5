"""The weekly exception digest: `build.build_digest(sources, week)` gathers one ISO week into a `model.Digest`,
`delivery.deliver` posts it.

`build` is the entry point; `queries` holds every SQL statement, `kpis` the figures computed from its rows,
`sections` the lists (exceptions, knowledge to fix, workflows to promote or demote), `eval` the evaluation
lines, `weeks` the ISO weeks and the schedule; `model` is the digest as data, which `format`, `render` (text,
Markdown) and `chart` (PNG) present and `delivery` posts. The Slack and Teams renderings live in `bot/`.

Nothing is imported here: settings read `weeks` for the schedule, and should not load the whole digest with it.
"""
