"""The submission service (`make serve`): runs in the coordinator's process, as a web app on uvicorn.

Routes, sign-in, pages and its database (SQLAlchemy: SQLite by default, PostgreSQL by URL). It is
a client of the coordinator (warm lanes in coordinator/live.py, policies in coordinator/policy.py,
feedback pages from coordinator/report.py) and never imports the sandbox (.importlinter); the
sandbox and the judge never import it.
"""
