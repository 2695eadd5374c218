"""Helpers shared by the test suites: plain functions and classes, no fixtures, no tests.

Test modules import from here (never from another test module or a conftest); fixtures stay
in the ``conftest.py`` files and may call these helpers.

- ``paths``: the repository, the data files, ``isolated_paths``.
- ``settings``: ``quiet_settings`` (paths under a temp dir, no log file).
- ``net``: ``free_port``, ``wait_http_ok``.
- ``memory``: ``RssGrowth``.
- ``models``: ``make_card``, ``make_loaded``, ``build_small_pipeline``, ``SMALL``.
- ``datasets``: hand-made frames (``tiny_frame``), the loans data set and its schema.
- ``cli``: ``cli`` (the console script in a subprocess), ``tmp_env``.
- ``servers``: the server process (``serve``, ``start_server``) and what asks it
  (``all_workers``, ``wait_all``, ``assert_degraded``, ``assert_kill_9_durable``...).
- ``api``: ``TOKEN``, ``AUTH``, ``record`` for the in-process API tests.
- ``batch``: ``DASK``, ``environment`` for the Dask batch tests.
- ``pg``: ``PostgresServer``, a throw-away PostgreSQL server.
- ``aws``: ``AWS_TEST_ENV``, credentials for the throw-away S3 endpoint.
- ``observability``: the Prometheus and Grafana folders, ``dashboards``.
- ``figures``: ``figure_path``, ``publish_figure`` (``make figures`` copies to reports/figures).
- ``store_checks``, ``idempotency_checks``: checks run on every database the store supports.
"""
