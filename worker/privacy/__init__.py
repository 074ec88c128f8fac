"""Personal data the AVG/GDPR way (docs/architecture.md §17).

- ``worker.privacy.holdings``: everything the store and the outbox hold about one person
  of a plan (``export``), and the pseudonyms that replace them;
- ``worker.privacy.erase``: ``forget``, one person erased from a plan;
- ``worker.privacy.retention``: ``purge``, a closed plan's personal data erased
  ``keep_days`` after its close.
"""
