"""Development tooling of MES Messagerie, kept out of what production installs.

- ``mes_dev.devstack``: ``mes-dev``, behind ``make run``: NATS, the SMTP sink, every service and
  the gateway on one machine, restarted when they die, with demo data;
- ``mes_dev.devstack_smtp``: the SMTP sink that keeps every e-mail as ``var/mail/*.eml``;
- ``mes_dev.devstack_demo``: the demo data, loaded through the public API;
- ``mes_dev.testing``: test helpers (a real NATS server per test, a PostgreSQL database per test)
  and the pytest fixtures the suite uses.
"""
