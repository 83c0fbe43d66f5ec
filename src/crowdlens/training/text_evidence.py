"""Text evidence for label validation: what a photo's own text says about its item.

Packaged items carry their brand and variety on the pack ("Arla", "YOGHURT",
"MILD", "vanilj"), which the image classifier must otherwise infer from
colour and shape: on the grocery photos half of the image model's val errors
are packs (yoghurts, juices, soyghurts, sour cream). The text stage reads
those words anyway, so label validation can use them.

A small text classifier gives log-probabilities over the items from the
lines OCR read: TF-IDF of character n-grams (2-5, within words: OCR splits
and misreads words, n-grams survive that) and a multinomial logistic
regression. It is fused with the image model by adding its evidence to the
image logits::

    fused = image_logits + weight * (text_log_prob - log_prior)

A photo without text gets the model's "no text" evidence, which is mild
(fruit and vegetables rarely carry text) and learned like the rest. The
regularisation ``c`` and the ``weight`` are chosen on out-of-fold
predictions of the training photos (the calibration folds of
:mod:`crowdlens.training.groups`), by fused top-1, never on val or on the
photos being judged; temperature and verdict thresholds are then fitted on
the fused out-of-fold logits.

Stored in a bundle without pickle: ``text_evidence.json`` (vocabulary and
settings) and ``text_evidence.npz`` (idf, weights; loaded with
``allow_pickle=False``), so a bundle from elsewhere cannot run code.
Everything here is pure (no Spark); :mod:`crowdlens.training.text_reads`
reads the training photos' text on Spark.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crowdlens import schema as S
from crowdlens.errors import CrowdlensError
from crowdlens.verdicts import Thresholds

JSON_FILE = "text_evidence.json"
ARRAYS_FILE = "text_evidence.npz"
NGRAMS = (2, 5)
MIN_DF = 2  # an n-gram must occur in two training photos' text
MIN_CONFIDENCE = 0.5  # OCR lines read with less confidence are left out
CS = (1.0, 3.0, 10.0)  # inverse regularisation strengths tried
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)  # fusion weights tried (0 = image alone)
ABSENT = -30.0  # intercept of an item no training photo has: its text evidence is 0


def document(lines: Iterable[tuple[str, float]], min_confidence: float = MIN_CONFIDENCE) -> str:
    """The text of one photo as the text model reads it: confident lines, lower case.

    >>> document([("Arla", 0.99), ("YOGHURT", 0.98), ("x", 0.2)])
    'arla | yoghurt'
    """
    return " | ".join(t.strip().lower() for t, c in lines if c >= min_confidence and t.strip())


def _vectorizer(vocabulary: Sequence[str] | None = None) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=NGRAMS,
        sublinear_tf=True,
        min_df=MIN_DF if vocabulary is None else 1,
        dtype=np.float32,
        vocabulary=None if vocabulary is None else list(vocabulary),
    )


@dataclass(frozen=True, eq=False)  # arrays: compared and hashed by identity
class TextModel:
    """The fitted text classifier and how much it counts beside the image model."""

    vocabulary: tuple[str, ...]
    idf: np.ndarray  # [V]
    coef: np.ndarray  # [C, V]
    intercept: np.ndarray  # [C]
    log_prior: np.ndarray  # [C]: log share of each item among the training photos
    c: float
    weight: float = 0.0
    min_confidence: float = MIN_CONFIDENCE

    @functools.cached_property
    def _vec(self) -> Any:  # built once per model object, not per photo
        vec = _vectorizer(self.vocabulary)
        vec.idf_ = self.idf
        return vec

    def log_probs(self, docs: Sequence[str]) -> np.ndarray:
        """``[n, C]`` log-probabilities of the items given each document."""
        logits = np.tile(self.intercept, (len(docs), 1)).astype(np.float64)
        if self.vocabulary and len(docs):
            logits += self._vec.transform(list(docs)) @ self.coef.T.astype(np.float64)
        from scipy.special import log_softmax

        return log_softmax(logits, axis=1)

    def evidence(self, docs: Sequence[str]) -> np.ndarray:
        """``[n, C]`` to add to the image logits: ``weight * (log p(item | text) - log prior)``.

        An item no training photo had gets 0: the text knows nothing of it, so it
        leaves the image's judgement alone rather than vetoing it.
        """
        ev = self.weight * (self.log_probs(docs) - self.log_prior)
        ev[:, self.intercept <= ABSENT] = 0.0
        return ev.astype(np.float32)

    def with_weight(self, weight: float) -> TextModel:
        from dataclasses import replace

        return replace(self, weight=float(weight))

    def save(self, folder: str | Path) -> None:
        """Write ``text_evidence.json`` and ``text_evidence.npz`` into ``folder``."""
        folder = Path(folder)
        meta = {
            "kind": "tfidf-char-ngrams+logistic-regression",
            "ngrams": list(NGRAMS),
            "c": self.c,
            "weight": self.weight,
            "min_confidence": self.min_confidence,
            "classes": len(self.intercept),
            "vocabulary": list(self.vocabulary),
        }
        (folder / JSON_FILE).write_text(json.dumps(meta, ensure_ascii=False))
        arrays = {"idf": self.idf, "coef": self.coef, "intercept": self.intercept}
        np.savez_compressed(folder / ARRAYS_FILE, **arrays, log_prior=self.log_prior)

    @classmethod
    def load(cls, folder: str | Path, n_classes: int | None = None) -> TextModel:
        """Read a model written by :meth:`save` (a clear error when it is broken, or when
        it does not judge ``n_classes`` items, the bundle's labels)."""
        folder = Path(folder)
        try:
            meta = json.loads((folder / JSON_FILE).read_text())
            with np.load(folder / ARRAYS_FILE, allow_pickle=False) as z:
                arrays = {k: np.asarray(z[k]) for k in ("idf", "coef", "intercept", "log_prior")}
            model = cls(
                vocabulary=tuple(meta["vocabulary"]),
                c=float(meta["c"]),
                weight=float(meta["weight"]),
                min_confidence=float(meta["min_confidence"]),
                **arrays,
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CrowdlensError(
                f"The text evidence of the bundle {str(folder)!r} cannot be read ({exc}); "
                "re-train the bundle, or set [validate] text_evidence = false to judge by the "
                "image alone."
            ) from exc
        model.check(folder, n_classes)
        return model

    def check(self, where: str | Path, n_classes: int | None = None) -> None:
        """Refuse, on the driver, a model that would fail (or judge wrongly) on the workers."""
        n, v = self.coef.shape if self.coef.ndim == 2 else (-1, -1)
        shapes = (len(self.idf), len(self.intercept), len(self.log_prior))
        problem = None
        if v != len(self.vocabulary) or shapes != (v, n, n):
            problem = f"weights {self.coef.shape}, vocabulary {len(self.vocabulary)}"
        elif n_classes is not None and n != n_classes:
            problem = f"{n} items, but the bundle has {n_classes} labels"
        elif len(set(self.vocabulary)) != v:
            problem = "a repeated n-gram in the vocabulary"
        if problem is None:
            try:
                self.log_probs(["check"])
            except ValueError as exc:
                problem = str(exc)
        if problem:
            raise CrowdlensError(
                f"The text evidence of the bundle {str(where)!r} is inconsistent ({problem}); "
                "re-train the bundle, or set [validate] text_evidence = false to judge by the "
                "image alone."
            )


@dataclass(frozen=True, eq=False)
class TextFusion:
    """A bundle's text evidence as label validation uses it: the text model and the
    calibration fitted for the fused logits (:mod:`crowdlens.stages.validate`)."""

    model: TextModel
    temperature: float
    fitted: dict[str, Any]  # the thresholds fitted on the fused out-of-fold logits
    th: Thresholds = field(default_factory=Thresholds)
    read_settings: dict[str, Any] = field(default_factory=dict)  # how training read the text

    def fuse(self, logits: Sequence[float], regions: Sequence[Any]) -> np.ndarray:
        """The image ``logits`` plus the evidence of the text lines in ``regions``
        (``text_regions`` entries: their ``text`` and ``confidence``)."""
        lines = ((r[S.REGION_TEXT] or "", r[S.REGION_CONFIDENCE] or 0.0) for r in regions)
        doc = document(lines, self.model.min_confidence)
        return np.asarray(logits, np.float64) + self.model.evidence([doc])[0]


def fit_text_model(docs: Sequence[str], y: np.ndarray, n_classes: int, c: float) -> TextModel:
    """A text model (weight 0) fitted on the documents ``docs`` of items ``y``."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y)
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    log_prior = np.log(np.maximum(counts, 0.5) / counts.sum()).astype(np.float32)
    vec = _vectorizer()
    try:
        x = vec.fit_transform(list(docs))
    except ValueError:  # no n-gram in two photos: no text to learn from
        empty = np.zeros((n_classes, 0), np.float32)
        return TextModel((), np.zeros(0, np.float32), empty, log_prior.copy(), log_prior, c)
    coef = np.zeros((n_classes, x.shape[1]), np.float32)
    intercept = np.full(n_classes, ABSENT, np.float32)
    present = np.unique(y)
    if len(present) > 1:
        clf = LogisticRegression(C=c, max_iter=3000).fit(x, y)
        if len(clf.classes_) == 2:  # one row: p(second) = sigmoid(w.x + b); first at 0
            coef[clf.classes_[1]], intercept[clf.classes_[1]] = clf.coef_[0], clf.intercept_[0]
            intercept[clf.classes_[0]] = 0.0
        else:
            coef[clf.classes_] = clf.coef_
            intercept[clf.classes_] = clf.intercept_
    else:
        intercept[present] = 0.0
    vocab = tuple(vec.get_feature_names_out().tolist())
    return TextModel(vocab, vec.idf_.astype(np.float32), coef, intercept, log_prior, c)


def out_of_fold(
    docs: Sequence[str], y: np.ndarray, folds: np.ndarray, n_classes: int, c: float
) -> np.ndarray:
    """``[n, C]`` text evidence per unit weight of every row, from a model fitted on the other folds."""
    out = np.zeros((len(y), n_classes), np.float32)
    for f in np.unique(folds):
        held = folds == f
        fit = fit_text_model([d for d, h in zip(docs, held) if not h], y[~held], n_classes, c)
        out[held] = fit.with_weight(1.0).evidence([d for d, h in zip(docs, held) if h])
    return out


def choose_fusion(
    image_oof: np.ndarray,
    docs: Sequence[str],
    y: np.ndarray,
    folds: np.ndarray,
    cs: Sequence[float] = CS,
    weights: Sequence[float] = WEIGHTS,
) -> tuple[float, float, np.ndarray, list[dict[str, float]]]:
    """(c, weight, fused out-of-fold logits, the grid's out-of-fold top-1) by fused top-1.

    ``image_oof`` are the image model's out-of-fold logits of the same rows
    and ``folds``. Ties go to the smaller weight, so text that does not help
    gets weight 0 and the bundle judges by the image alone.
    """
    y = np.asarray(y)
    grid: list[dict[str, float]] = []
    best: tuple[float, float, float, np.ndarray] | None = None  # (top-1, -w, c, fused)
    for c in cs:
        ev = out_of_fold(docs, y, folds, image_oof.shape[1], c)
        for w in weights:
            fused = image_oof + w * ev
            top1 = float((fused.argmax(1) == y).mean())
            grid.append({"c": c, "weight": w, "top1": round(top1, 4)})
            if best is None or (top1, -w) > (best[0], best[1]):
                best = (top1, -w, c, fused)
    assert best is not None
    return best[2], -best[1], best[3].astype(np.float32), grid
