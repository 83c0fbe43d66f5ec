"""crowdlens: moderate crowdsourced photos at scale on Apache Spark.

The pipeline (``crowdlens moderate``) reads photos from a folder or a manifest,
decodes them safely, measures quality, classifies them, finds and blurs
personal information, and writes one results row per input photo.
"""

__version__ = "0.1.0"
