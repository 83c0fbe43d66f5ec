"""Photo quality: measures, flags, perceptual hashes and near-duplicate search.

The per-photo helpers (:mod:`.measures`, :mod:`.flags`, :mod:`.hashing`) are
pure numpy/OpenCV/PIL and need no Spark; :mod:`.duplicates` is the Spark join;
the stage functions live in :mod:`crowdlens.stages.quality`.
"""

from crowdlens.quality.config import QualityConfig

__all__ = ["QualityConfig"]
