"""cost-exporter: a daily snapshot of every bill, served as Prometheus metrics."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cost-exporter")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"
