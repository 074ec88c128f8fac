"""What people click: the check-in form and API, the status page, health (docs/architecture §1, §7).

``web.app:app`` is the ASGI app that ``pactkeeper run`` and docker-compose start
with uvicorn; ``web.app.create_app`` builds one from Settings.
"""
