"""The running service: the web server and what it keeps, counts and limits.

    server.py       Starlette app: /webhooks/line, /webhooks/telegram, /healthz, /metrics, /console
    desk.py         Desk: what both channels share (resident memory, rate limit, redelivery, log)
    store.py        the database (SQLite or PostgreSQL); migrations/: its schema, by alembic
    limits.py       rate limits counted in the database, shared by every worker
    workers.py      `bot serve --workers N`: forked workers on one listening socket
    settings.py     the environment, read once; privacy.py: keyed hashes of platform ids
    metrics.py      Prometheus counters; logs.py: JSON log lines; retry.py: back-off for platform APIs
"""
