"""Per-worker caches freeze what they load out of the garbage collector's walk (issue 14).

pyspark runs a full ``gc.collect()`` after every task of a reused Python
worker; a model loaded through :func:`crowdlens.spark.worker.per_worker`
is frozen (``gc.freeze``) so that walk skips it. Only inside Spark tasks.
"""

from __future__ import annotations

import gc

from crowdlens.models.runtime import _cached_bundle, get_bundle


def test_a_bundle_loaded_in_a_spark_task_is_frozen_out_of_the_collector(spark, mobilenet_bundle):
    path = str(mobilenet_bundle)

    # Defined inside the test: cloudpickle ships it by value to the workers,
    # which cannot import test modules.
    def load_in_task(_rows):
        from crowdlens.models.runtime import _cached_bundle, get_bundle

        _cached_bundle.clear()
        gc.unfreeze()  # a reused worker may have frozen an earlier test's objects
        before = gc.get_freeze_count()
        bundle = get_bundle(path)
        frozen = gc.get_freeze_count()
        get_bundle(path)  # a cache hit builds nothing, so freezes nothing new
        yield before, frozen, gc.get_freeze_count(), gc.is_tracked(bundle.__dict__)

    got = spark.sparkContext.parallelize([0], 1).mapPartitions(load_in_task).collect()
    before, frozen, after_hit, tracked = got[0]
    assert before == 0
    assert frozen > 1000  # the libraries the worker imported, not only the bundle
    assert after_hit == frozen
    assert tracked  # frozen objects stay tracked; reference counting still frees them


def test_outside_a_spark_task_nothing_is_frozen(mobilenet_bundle):
    gc.unfreeze()
    _cached_bundle.clear()
    get_bundle(mobilenet_bundle)
    assert gc.get_freeze_count() == 0
