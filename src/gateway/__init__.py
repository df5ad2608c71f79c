"""Portico's running application: HTTP API, persistence, workers and CLI.

The gateway wires the domain's services to storage and to the connectors. It
is the only package that knows about FastAPI, SQLAlchemy and uvicorn.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("portico-gateway")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
