"""Background jobs: long work (planning runs today; stock allocation, route optimisation, report builds and
PDFs tomorrow) runs in a worker, off the request path, with progress, cancellation and an audit trail.

Why huey
--------
The queue is `huey <https://huey.readthedocs.io>`_ (3.x): a small, long-maintained task queue with one
dependency-free core and storages for exactly the two places igflow runs:

* **SQLite** (``SqliteHuey``): ``make demo`` keeps its queue in ``igflow-jobs.db`` beside ``igflow.db``; no
  extra server, and queued work survives a restart because the queue is a file.
* **PostgreSQL** (``PostgresHuey``, psycopg 3, which igflow already uses): ``SELECT ... FOR UPDATE SKIP
  LOCKED`` and ``LISTEN/NOTIFY``, so workers on several machines share one queue in the production database
  with no broker to run. **Redis** (``RedisHuey``) is there for sites that have one.

Procrastinate (PostgreSQL only) would need a second queue for the SQLite default; Celery, RQ and Dramatiq
need a broker server (Redis or RabbitMQ) even for the demo.

The split of responsibilities
-----------------------------
huey only carries a job's id to a worker. The ``job`` table (:mod:`igflow.jobs.models`) in igflow's own
database is the source of truth: kind, parameters, requester, state, progress, result, error and times.
State changes go through one function, :func:`igflow.jobs.service.transition`, which refuses illegal moves
with 409 and audits every change. A duplicate queue message is harmless: the move ``queued -> running`` is a
compare-and-set, so only one worker ever runs a job.

Kinds are rows of a table (:mod:`igflow.jobs.kinds`): one handler per kind, each declaring the permission
needed to start, see and cancel it. See :mod:`igflow.jobs.runner` for how a handler reports progress, honours
cancellation and keeps database transactions short.
"""
