"""Benchmarks for the knowledge base: query latency, HNSW recall and ingest throughput.

Run with `python -m bench` (or `make bench`); the report is written to docs/benchmarks.md.
Everything runs on a throw-away embedded PostgreSQL in a temporary folder, never on ./.supportbot.
"""
