"""Self-contained HTML report of a results file."""

from hfpc.report.html import write_report

__all__ = ["write_report"]
