"""Durable turns: inbound events stored before they are acknowledged, run from a PostgreSQL job queue
(procrastinate), one conversation's turns after another, by any number of worker processes."""
