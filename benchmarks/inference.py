"""Inference throughput: raw ONNX Runtime vs the Spark classify stage.

One run, same photos (the val split of the shared grocery data), same machine:

  (a) raw ONNX Runtime on already-preprocessed tensors, one process, all
      cores (intra-op threads = cores): the limit, so the fastest of
      ``--a-batches`` photos per ORT run counts;
  (b) the Spark classify stage from JPEG bytes held in memory: decode +
      preprocess + ORT in the Python workers, with the stage's own settings
      (``InferenceConfig``; ``--batch-size`` to override its photos per ORT
      run) and its own outputs (label, score, top-k; ``--embed`` adds the
      1,280-float embedding column, which only training and ``[model]
      embed = true`` ask for);

printed as photos/s and the ratio b/a, per backbone, fp32 and int8 (static
ONNX Runtime quantization calibrated on train photos). Also: single-process
decode+preprocess rate, int8 vs fp32 top-1 agreement and embedding cosine,
1-NN accuracy on the grocery fine labels from the embeddings (leave-one-out
on the val photos) as the accuracy that matters downstream, peak RSS per
Spark Python worker, top-1 agreement with the previous resize-then-crop
preprocessing, the share of photos whose (b) label is (a)'s top-1, and CPU
milliseconds per photo: (a) with one ORT thread at its best batch (the CPU
inference itself costs) and (b) summed over the JVM and Python workers,
and the ceiling: the CPU a/b (and b/a) a Spark stage with no overhead at
all would reach, since it must still decode and resize each photo (the
workers' own decode + resize, CPU per photo in one process).
Wall-clock rates on a shared machine measure the neighbours too (a
multi-threaded ORT pool suffers more than two single-threaded tasks, which
flatters b/a); CPU a/b does not depend on the load as much. The load
average is printed at the start and the end of every run.

    .venv/bin/python benchmarks/inference.py --quick
    .venv/bin/python benchmarks/inference.py --limit 256 --models efficientnet_lite0 --no-int8
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "grocery-store"
WORK = REPO / "benchmarks" / "_work" / "inference"


def photos(folder: Path, limit: int) -> list[Path]:
    from crowdlens.decode import supported_extensions

    exts = supported_extensions()
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in exts)
    if limit:
        # Evenly spaced, so every class folder is represented in a quick run.
        step = max(1, len(files) // limit)
        files = files[::step][:limit]
    return files


def bundles(name: str, int8: bool, calib: Path, rebuild: bool = False) -> dict[str, Path]:
    """fp32 (and int8) bundles of a registry model, built once in the work folder."""
    import shutil

    from crowdlens.models.bundle import META_FILE
    from crowdlens.models.export import export_bundle
    from crowdlens.models.quantize import calibration_photos, quantize_bundle
    from crowdlens.models.registry import create_model

    out = {"fp32": WORK / name}
    if rebuild:
        for p in (WORK / name, WORK / f"{name}-int8"):
            shutil.rmtree(p, ignore_errors=True)
    if not (out["fp32"] / META_FILE).is_file():
        model = create_model(name)
        export_bundle(model, model.pretrained_cfg, out["fp32"], labels=model.pretrained_cfg.labels)
    if int8:
        out["int8"] = WORK / f"{name}-int8"
        if not (out["int8"] / META_FILE).is_file():
            quantize_bundle(out["fp32"], out["int8"], calibration=calibration_photos(calib, 64))
    return out


def raw_ort(bundle_path: Path, x: np.ndarray, batch: int, threads: int) -> tuple[float, dict]:
    """(a): photos/s of ORT alone on preprocessed tensors, plus its outputs."""
    from crowdlens.models.bundle import load_bundle
    from crowdlens.models.runtime import run

    b = load_bundle(bundle_path)
    run(b, x[:batch], threads=threads)  # warm-up: session creation and first-run allocations
    feats, logits = [], []
    t = time.perf_counter()
    for i in range(0, len(x), batch):
        out = run(b, x[i : i + batch], threads=threads)
        feats.append(out["features"])
        logits.append(out["logits"])
    dt = time.perf_counter() - t
    return len(x) / dt, {"features": np.concatenate(feats), "logits": np.concatenate(logits)}


def previous_preprocess(data: bytes, cfg) -> np.ndarray:
    """The model input as crowdlens made it before the one-pass resize: the whole
    photo resized (shorter side to ``resize``), then the centre crop."""
    from crowdlens.models.preprocess import _resample, load_image, normalize

    spec = cfg.preprocess
    image = load_image(data, cfg)
    w, h = image.size
    n = spec.resize
    size = (n, max(1, round(h * n / w))) if w <= h else (max(1, round(w * n / h)), n)
    image = image.resize(size, _resample(spec.interpolation), reducing_gap=3.0)
    left, top = (size[0] - spec.input_size) // 2, (size[1] - spec.input_size) // 2
    crop = image.crop((left, top, left + spec.input_size, top + spec.input_size))
    return normalize(np.asarray(crop), spec)


def best_raw_ort(
    bundle_path: Path, x: np.ndarray, batches: list[int], threads: int
) -> tuple[float, int, dict]:
    """(a) at its fastest: the best photos/s over ``batches`` photos per ORT run."""
    best = (0.0, 0, {})
    for batch in batches:
        rate, out = raw_ort(bundle_path, x, batch, threads)
        if rate > best[0]:
            best = (rate, batch, out)
    return best


def raw_ort_parallel(bundle_path: Path, x: np.ndarray, batches: list[int], streams: int) -> float:
    """(a2): photos/s of ``streams`` single-threaded ORT runs at once, one process, best batch.

    The other way one process can use all cores: data parallel (one Python
    thread per core, each running whole batches on one ORT thread; ORT
    releases the GIL), instead of (a)'s intra-op pool splitting every
    operator. Printed beside (a) because it is the faster limit on a small
    model; (b)'s Spark tasks are data parallel the same way.
    """
    from concurrent.futures import ThreadPoolExecutor

    from crowdlens.models.bundle import load_bundle
    from crowdlens.models.runtime import run

    b = load_bundle(bundle_path)
    run(b, x[:1], threads=1)  # warm-up: session creation
    parts = np.array_split(x, streams)  # contiguous views, no copy
    best = 0.0
    for batch in batches:

        def work(part: np.ndarray, batch: int = batch) -> None:
            for i in range(0, len(part), batch):
                run(b, part[i : i + batch], threads=1)

        t = time.perf_counter()
        with ThreadPoolExecutor(streams) as pool:
            list(pool.map(work, parts))
        best = max(best, len(x) / (time.perf_counter() - t))
    return best


def raw_ort_cpu(bundle_path: Path, x: np.ndarray, batches: list[int]) -> float:
    """CPU s/photo of inference alone, one ORT thread (no pool), best over ``batches``."""
    best = float("inf")
    for batch in batches:
        c = time.process_time()
        raw_ort(bundle_path, x, batch, threads=1)
        best = min(best, (time.process_time() - c) / len(x))
    return best


def prep_cpu(data: list[bytes], bundle_path: Path, repeat: int) -> float:
    """CPU s/photo of what (b)'s workers do before ORT: decode + resize to the uint8 crop.

    One process, the stage's own functions; the best of ``repeat`` passes.
    """
    from crowdlens.models.preprocess import eval_pixels, load_image
    from crowdlens.models.runtime import get_bundle

    b = get_bundle(bundle_path)
    best = float("inf")
    for _ in range(repeat):
        c = time.process_time()
        for d in data:
            eval_pixels(load_image(d, b), b)
        best = min(best, (time.process_time() - c) / len(data))
    return best


def _timed(out, warm) -> tuple[float, dict[str, float]]:
    """photos/s of writing ``out`` (after writing ``warm``), and CPU s/photo by process kind.

    The warm-up starts the Python workers and their ORT sessions, which a long
    job pays once; the timed run then measures steady state.
    """
    warm.write.format("noop").mode("overwrite").save()
    n = out.count()
    cpu = tree_cpu_seconds()
    t = time.perf_counter()
    out.write.format("noop").mode("overwrite").save()
    rate = n / (time.perf_counter() - t)
    after = tree_cpu_seconds()
    return rate, {k: (after[k] - cpu[k]) / n for k in cpu}


def spark_stage(
    spark, content_df, bundle_path: Path, batch: int | None, embed: bool
) -> tuple[float, dict[str, float]]:
    """(b): photos/s of classify_stage over cached JPEG bytes, and CPU s/photo.

    ``batch``: photos per ORT run in the workers (None: the stage's default);
    ``embed``: also return the embedding column.
    """
    from crowdlens.models.predict import InferenceConfig
    from crowdlens.stages.classify import classify_stage

    cfg = InferenceConfig() if batch is None else InferenceConfig(batch_size=batch)
    out = classify_stage(content_df, str(bundle_path), cfg, embed=embed)
    return _timed(out, classify_stage(content_df.limit(128), str(bundle_path), cfg))


def spark_stage_from_paths(
    spark, paths_df, bundle_path: Path, batch: int | None
) -> tuple[float, dict[str, float]]:
    """(b'): the classify step as ``crowdlens moderate`` feeds it: Spark ships paths only.

    The read step and the classify step run in one Python pass
    (:func:`crowdlens.spark.rows.run_steps`): each worker reads its photos'
    files (page cache: the same bytes as (b)) and the bytes never cross into
    the JVM, as in the pipeline. Same outputs as (b).
    """
    from crowdlens import schema as S
    from crowdlens.models.predict import InferenceConfig
    from crowdlens.spark.rows import columns_after, run_steps
    from crowdlens.stages.classify import inference_step
    from crowdlens.stages.read import read_step

    cfg = InferenceConfig() if batch is None else InferenceConfig(batch_size=batch)

    def stage(df):
        read = read_step()
        step = inference_step(
            columns_after(df.columns, read), bundle_path, cfg, embed=False, classify=True
        )
        return run_steps(df, [read, step], working=S.READ_COLUMNS)

    return _timed(stage(paths_df), stage(paths_df.limit(128)))


def _tree(root: int) -> list[int]:
    """``root`` and every process below it (the JVM and Python workers of a local master)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    todo, found = [root], []
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def tree_cpu_seconds() -> dict[str, float]:
    """User + system CPU seconds of this process and all below it (alive ones), by kind.

    CPU time, unlike wall time, is not inflated by other jobs sharing the
    cores, so CPU per photo compares (a) and (b) honestly on a loaded machine.
    Kinds: ``workers`` (Spark Python workers), ``jvm``, ``driver`` (this process).
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = {"workers": 0.0, "jvm": 0.0, "driver": 0.0}
    for pid in _tree(os.getpid()):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        kind = "driver" if pid == os.getpid() else "jvm" if b"java" in cmd else "workers"
        total[kind] += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def load_text() -> str:
    """The 1, 5 and 15 minute load averages, printed with every figure."""
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def worker_peak_rss_mb() -> float | None:
    """Peak RSS (VmHWM) of the Spark Python workers below this process (local masters).

    Workers are reused and stay alive after a job, so their high-water mark
    covers the whole run: decode buffers, the ORT session and its arenas.
    """
    peak = None
    for pid in _tree(os.getpid()):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if b"pyspark.worker" in cmd:
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    kb = float(line.split()[1])
                    peak = max(peak or 0.0, kb / 1024.0)
    return peak


def stage_top1_agreement(spark, content_df, bundle_path: Path, batch, logits) -> float:
    """Share of photos whose (b) ``pred_label`` is (a)'s top-1 (rows of ``logits``)."""
    from crowdlens import schema as S
    from crowdlens.models.bundle import load_bundle
    from crowdlens.models.predict import InferenceConfig
    from crowdlens.stages.classify import classify_stage

    cfg = InferenceConfig() if batch is None else InferenceConfig(batch_size=batch)
    got = dict(
        classify_stage(content_df, str(bundle_path), cfg).select(S.IMAGE_ID, S.PRED_LABEL).collect()
    )
    labels = load_bundle(bundle_path).labels
    want = [labels[j] for j in logits.argmax(1)]
    return float(np.mean([got.get(str(i)) == w for i, w in enumerate(want)]))


def measure(spark, frames: tuple, path: Path, x: np.ndarray, data: list[bytes], args) -> dict:
    """(a), (b) and (b') for one bundle, interleaved ``args.repeat`` times, the best of each kept.

    ``frames``: the cached table of JPEG bytes (b) and of their paths (b').

    On a shared machine the slowest run measures the neighbours, not the code.
    """
    cores = os.cpu_count() or 1
    batches = sorted({int(v) for v in args.a_batches.split(",")} | {args.batch_size or 0} - {0})
    content_df, paths_df = frames
    a, a2, b, cpu_a, cpu_b, cpu_prep = 0.0, 0.0, 0.0, float("inf"), float("inf"), float("inf")
    bp, cpu_bp = 0.0, float("inf")
    for _ in range(args.repeat):
        a_i, batch_i, out_i = best_raw_ort(path, x, batches, threads=cores)
        if a_i > a:
            a, a_batch, out = a_i, batch_i, out_i
        a2 = max(a2, raw_ort_parallel(path, x, batches, streams=cores))
        # CPU of inference alone: one thread, no spinning pool.
        cpu_a = min(cpu_a, raw_ort_cpu(path, x, batches))
        cpu_prep = min(cpu_prep, prep_cpu(data, path, 1))
        b_i, parts = spark_stage(spark, content_df, path, args.batch_size, args.embed)
        b = max(b, b_i)
        if sum(parts.values()) < cpu_b:
            cpu_b, cpu_parts = sum(parts.values()), parts
        bp_i, parts = spark_stage_from_paths(spark, paths_df, path, args.batch_size)
        bp = max(bp, bp_i)
        if sum(parts.values()) < cpu_bp:
            cpu_bp, cpu_parts_p = sum(parts.values()), parts
    agree = stage_top1_agreement(spark, content_df, path, args.batch_size, out["logits"])
    return {
        "a": a,
        "a_batch": a_batch,
        "a2": a2,
        "b": b,
        "cpu_a": cpu_a,
        "cpu_b": cpu_b,
        "cpu_parts": cpu_parts,
        "bp": bp,
        "cpu_bp": cpu_bp,
        "cpu_parts_p": cpu_parts_p,
        "cpu_prep": cpu_prep,
        # What no Spark stage can beat: ORT plus its own decode + resize, nothing else.
        "ceil_cpu": cpu_a / (cpu_a + cpu_prep),
        # Wall clock: both cores busy with that work, against (a)'s best rate. Only
        # meaningful on an idle machine, where (a)'s rate is not cut by neighbours.
        "ceil_b": cores / (cpu_a + cpu_prep) / a,
        "b_agree": agree,
        "out": out,
    }


def knn_accuracy(feats: np.ndarray, labels: list[str]) -> float:
    """Leave-one-out 1-nearest-neighbour accuracy (cosine) on the fine labels."""
    f = feats / np.linalg.norm(feats, axis=1, keepdims=True).clip(1e-12)
    sim = f @ f.T
    np.fill_diagonal(sim, -np.inf)
    nn = sim.argmax(axis=1)
    return float(np.mean([labels[i] == labels[j] for i, j in enumerate(nn)]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--data", type=Path, default=DATA / "val", help="photo folder (default: val split)"
    )
    ap.add_argument(
        "--calibration", type=Path, default=DATA / "train", help="int8 calibration photos"
    )
    ap.add_argument("--models", default="mobilenet_v2,efficientnet_lite0")
    ap.add_argument("--limit", type=int, default=0, help="photos to use (0 = all)")
    ap.add_argument("--quick", action="store_true", help="64 photos, mobilenet_v2 only")
    ap.add_argument("--no-int8", dest="int8", action="store_false")
    ap.add_argument("--repeat", type=int, default=2, help="interleaved runs, best kept")
    ap.add_argument("--rebuild", action="store_true", help="re-export and re-quantize bundles")
    ap.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="photos per ORT run in (b) (default: the stage's default, InferenceConfig)",
    )
    ap.add_argument(
        "--a-batches",
        default="1,4,8,16,32",
        help="photos per ORT run tried for (a); the fastest counts (the limit)",
    )
    ap.add_argument(
        "--embed",
        action="store_true",
        help="(b) also returns the 1,280-float embedding (classify_stage(embed=True))",
    )
    ap.add_argument("--master", default=f"local[{os.cpu_count()}]")
    ap.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                    help="a Spark setting for (b), e.g. "
                         "spark.sql.execution.arrow.maxRecordsPerBatch=64 (repeatable)")  # fmt: skip
    args = ap.parse_args(argv)
    bad = [c for c in args.conf if "=" not in c]
    if bad:
        print(f"--conf takes KEY=VALUE, got {bad[0]!r}", file=sys.stderr)
        return 2
    if args.quick:
        args.limit, args.models, args.repeat = args.limit or 64, "mobilenet_v2", 1
    if not args.data.is_dir():
        print(f"photo folder {args.data} not found; pass --data", file=sys.stderr)
        return 2

    from crowdlens import schema as S
    from crowdlens.config import SparkConfig
    from crowdlens.models.preprocess import preprocess_bytes
    from crowdlens.models.registry import get_pretrained_config
    from crowdlens.spark.session import get_spark

    files = photos(args.data, args.limit)
    data = [p.read_bytes() for p in files]
    fine = [p.parent.name for p in files]
    cores = os.cpu_count() or 1
    from crowdlens.models.predict import InferenceConfig

    b_batch = args.batch_size or InferenceConfig().batch_size
    print(f"{len(files)} photos from {args.data}; {cores} cores; master {args.master}; "
          f"(b) ORT batch {b_batch}, embedding {'on' if args.embed else 'off'}; "
          f"(a) best of batches {args.a_batches}; Spark conf {args.conf or 'default'}; "
          f"load average {load_text()}")  # fmt: skip

    conf = dict(c.split("=", 1) for c in args.conf)
    spark = get_spark(SparkConfig(master=args.master, app_name="bench-inference", conf=conf))
    n_part = max(2 * spark.sparkContext.defaultParallelism, len(files) // 64)
    rows = [(str(i), d, S.STATUS_OK, None) for i, d in enumerate(data)]
    ddl = f"{S.IMAGE_ID} string, {S.CONTENT} binary, {S.STATUS} string, {S.ERROR} string"
    content_df = spark.createDataFrame(rows, ddl).repartition(n_part).cache()
    content_df.count()
    path_rows = [(str(i), str(f), S.STATUS_OK, None) for i, f in enumerate(files)]
    path_ddl = f"{S.IMAGE_ID} string, {S.PATH} string, {S.STATUS} string, {S.ERROR} string"
    paths_df = spark.createDataFrame(path_rows, path_ddl).repartition(n_part).cache()
    paths_df.count()

    results = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        cfg = get_pretrained_config(name)
        t = time.perf_counter()
        x = np.stack([preprocess_bytes(d, cfg) for d in data])
        prep_rate = len(data) / (time.perf_counter() - t)
        x_prev = np.stack([previous_preprocess(d, cfg) for d in data])
        paths = bundles(name, args.int8, args.calibration, args.rebuild)
        ref = None
        for precision, path in paths.items():
            m = measure(spark, (content_df, paths_df), path, x, data, args)
            out = m.pop("out")
            row = {
                "model": name,
                "precision": precision,
                "size_mb": (path / "model.onnx").stat().st_size / 1e6,
                "prep": prep_rate,
                **m,
                "knn": knn_accuracy(out["features"], fine),
            }
            if ref is None:
                ref = out
                _, prev = raw_ort(path, x_prev, m["a_batch"], threads=cores)
                row["prev_agree"] = float(
                    np.mean(prev["logits"].argmax(1) == out["logits"].argmax(1))
                )
            else:
                row["agree"] = float(np.mean(out["logits"].argmax(1) == ref["logits"].argmax(1)))
                fa, fb = out["features"], ref["features"]
                cos = (fa * fb).sum(1) / (np.linalg.norm(fa, axis=1) * np.linalg.norm(fb, axis=1))
                row["cos"] = float(cos.mean())
            results.append(row)
            print(
                f"  {name} {precision}: a={m['a']:.1f}/s (ORT batch {m['a_batch']}) "
                f"b={m['b']:.1f}/s b/a={m['b'] / m['a']:.2f}; CPU ms/photo "
                f"a(1 thread)={m['cpu_a'] * 1e3:.1f} b={m['cpu_b'] * 1e3:.1f} "
                f"a/b={m['cpu_a'] / m['cpu_b']:.2f} (b: "
                + ", ".join(f"{k} {v * 1e3:.1f}" for k, v in m["cpu_parts"].items())
                + f"); (b) top-1 = (a) top-1 on {m['b_agree']:.4f} of photos; "
                f"a2 (data parallel) = {m['a2']:.1f}/s, b/a2 = {m['b'] / m['a2']:.2f}; "
                f"(b') paths in, as moderate runs it: {m['bp']:.1f}/s b'/a={m['bp'] / m['a']:.2f}, "
                f"CPU ms/photo {m['cpu_bp'] * 1e3:.1f} a/b'={m['cpu_a'] / m['cpu_bp']:.2f} (b': "
                + ", ".join(f"{k} {v * 1e3:.1f}" for k, v in m["cpu_parts_p"].items())
                + "); "
                f"decode+resize CPU {m['cpu_prep'] * 1e3:.2f} ms/photo, so with no Spark "
                f"overhead at all CPU a/b <= {m['ceil_cpu']:.2f} (b/a <= {m['ceil_b']:.2f}, "
                "meaningful on an idle machine only)",
                flush=True,
            )

    rss = worker_peak_rss_mb()
    driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print()
    print("| model | prec | MB | decode+prep 1 proc /s | (a) raw ORT /s (batch) "
          "| (b) Spark stage /s | b/a | 1-NN fine acc | int8 vs fp32 top-1 agree | feature cosine "
          "| top-1 agree with the previous resize | CPU ms/photo (a) 1 thread | CPU ms/photo (b) "
          "| CPU a/b | (b) top-1 = (a) top-1 | (a2) data-parallel ORT /s | b/a2 "
          "| decode+resize CPU ms/photo | ceiling CPU a/b | ceiling b/a |")  # fmt: skip
    print("|---" * 20 + "|")
    for r in results:
        print(
            f"| {r['model']} | {r['precision']} | {r['size_mb']:.1f} | {r['prep']:.0f} | "
            f"{r['a']:.1f} ({r['a_batch']}) | {r['b']:.1f} | **{r['b'] / r['a']:.2f}** | "
            f"{r['knn']:.3f} | "
            f"{r.get('agree', float('nan')):.3f} | {r.get('cos', float('nan')):.4f} | "
            f"{r.get('prev_agree', float('nan')):.4f} | {r['cpu_a'] * 1e3:.1f} | "
            f"{r['cpu_b'] * 1e3:.1f} | **{r['cpu_a'] / r['cpu_b']:.2f}** | {r['b_agree']:.4f} | "
            f"{r['a2']:.1f} | {r['b'] / r['a2']:.2f} | {r['cpu_prep'] * 1e3:.2f} | "
            f"{r['ceil_cpu']:.2f} | {r['ceil_b']:.2f} |"
        )
    rss_text = f"{rss:.0f} MB" if rss else "n/a (only measured for local masters)"
    print(f"\npeak RSS per Spark Python worker: {rss_text}; driver process: {driver:.0f} MB")
    print("goal: b/a >= 0.85 (the Spark stage decodes JPEGs, the raw figure does not); "
          f"load average at the end {load_text()}")  # fmt: skip
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
