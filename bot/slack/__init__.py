"""Slack adapter: translates between Slack (Bolt) and the channel-neutral core; nothing else."""
