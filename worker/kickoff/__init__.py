"""The kickoff: the runbook everyone gets at the start (docs/architecture.md §8)."""
