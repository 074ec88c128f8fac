"""Check-ins: the rhythm of windows, answers, detection of silence, risk and the ladder of
warnings, and their messages (docs/architecture.md §7)."""
