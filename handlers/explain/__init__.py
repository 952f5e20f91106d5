"""Why the bot did what it did: a stored decision told step by step (chain.py), with its routing (route.py) and
model calls (model_calls.py)."""
