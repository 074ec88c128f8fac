"""The ledger in motion: drafts, steps, retries and the dispatcher (docs/architecture.md §4)."""
