"""The review web app (``crowdlens review DIR``) and its export."""

from crowdlens.review.export import export_reviewed
from crowdlens.review.server import ReviewConfig, make_server, serve
from crowdlens.review.store import DecisionStore

__all__ = ["DecisionStore", "ReviewConfig", "export_reviewed", "make_server", "serve"]
