"""The configuration of a ``moderate`` run: one section per stage.

Each section is the stage's own frozen dataclass; this module only gathers
them, so that one TOML file (``--config``) configures the whole run:

    [spark]    SparkConfig       [quality]  QualityConfig
    [ingest]   IngestConfig      [model]    InferenceConfig
    [decode]   DecodeConfig      [validate] ValidateConfig
    [text]     TextConfig        [policy]   Policy
    [report]   ReportConfig
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crowdlens.config import DecodeConfig, IngestConfig, SparkConfig
from crowdlens.models.predict import InferenceConfig
from crowdlens.quality.config import QualityConfig
from crowdlens.report.html import ReportConfig
from crowdlens.stages.decide import Policy
from crowdlens.stages.validate import ValidateConfig
from crowdlens.text.config import TextConfig


@dataclass(frozen=True)
class ModerateConfig:
    """Everything ``crowdlens moderate`` needs, one section per concern."""

    spark: SparkConfig = field(default_factory=SparkConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    model: InferenceConfig = field(default_factory=InferenceConfig)
    validate: ValidateConfig = field(default_factory=ValidateConfig)
    text: TextConfig = field(default_factory=TextConfig)
    policy: Policy = field(default_factory=Policy)
    report: ReportConfig = field(default_factory=ReportConfig)
    # Write report.html beside the results.
    write_report: bool = True
