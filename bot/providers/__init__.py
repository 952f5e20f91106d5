"""Vendor implementations of the core's ports (`handlers.llm.LanguageModel`, `knowledge.embedder.Embedder`),
one sub-package per vendor. Only the composition root (bot/services.py, bot/core_factory.py) chooses and builds
them; the core sees the ports."""
