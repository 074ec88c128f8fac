"""What the plan puts in people's calendars: events, revisions, feeds, the CalDAV push,
invitations (docs/architecture.md §5). Format and protocol live in connectors.calendar."""
