"""The self-contained HTML moderation report (``DIR/report.html``)."""

from crowdlens.report.html import ReportConfig, thresholds_from, write_report

__all__ = ["ReportConfig", "thresholds_from", "write_report"]
