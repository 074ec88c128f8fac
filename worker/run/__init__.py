"""The processes: Celery app and tasks, the CLI, ``pactkeeper run`` and the rehearsal.

The only modules that may import celery, kombu, typer, rich or uvicorn
(docs/architecture.md §11; tests/test_layers.py enforces it).
"""
