"""The training engine on tiny synthetic tensors: triggers, schedules, metrics,
checkpoints, exact resume, TensorBoard files. Fast: no photos, no Spark."""

from __future__ import annotations

import math

import pytest
import torch

from crowdlens.errors import ConfigError, CrowdlensError
from crowdlens.training import (
    SGD,
    AdamW,
    Checkpoint,
    Cosine,
    EveryEpoch,
    Loss,
    MaxEpoch,
    MaxIteration,
    MaxScore,
    MinLoss,
    Poly,
    SeveralIteration,
    Step,
    Top1Accuracy,
    Top5Accuracy,
    Trainer,
    TrainState,
    Validation,
    Warmup,
)
from crowdlens.training.callbacks import Callback, TensorBoard
from crowdlens.training.checkpoint import find_latest, list_checkpoints, save_checkpoint


class StopAtEpoch(Callback):
    """Raise :class:`InterruptedError` when epoch ``k`` is done (simulates a killed run).

    Runs on every rank so that all processes stop together.
    """

    all_ranks = True

    def __init__(self, k: int) -> None:
        self.k = k

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        if state.epoch >= self.k:
            raise InterruptedError(f"stopped after epoch {state.epoch} (StopAtEpoch({self.k}))")


class Blobs:
    """A separable 4-class problem: class c is a Gaussian blob around centre c."""

    def __init__(self, n: int, seed: int, bad: tuple[int, ...] = ()) -> None:
        g = torch.Generator().manual_seed(seed)
        centres = torch.eye(4, 8) * 3
        self.y = torch.randint(0, 4, (n,), generator=g)
        self.x = centres[self.y] + torch.randn(n, 8, generator=g)
        self.bad = set(bad)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        if i in self.bad:
            return None  # an "undecodable photo"
        return self.x[i], int(self.y[i])


def mlp(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    # Dropout makes the run depend on the RNG state: resume must restore it.
    return torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 4)
    )


def make_trainer(model, val, **kw) -> Trainer:
    kw.setdefault("end_trigger", MaxEpoch(4))
    return Trainer(
        model,
        optim=SGD(lr=0.1, momentum=0.9),
        schedule=Warmup(1, Cosine()),
        batch_size=16,
        validation=Validation(EveryEpoch(), val, [Top1Accuracy(), Top5Accuracy(), Loss()]),
        seed=3,
        **kw,
    )


def test_training_learns_and_reports_metrics():
    train, val = Blobs(200, 0), Blobs(80, 1)
    result = make_trainer(mlp(), val).fit(train)
    assert result.state.epoch == 4
    assert result.state.iteration == 4 * math.ceil(200 / 16)
    assert result.metrics["top1"] > 0.9  # separable blobs; chance is 0.25
    assert result.metrics["top5"] == 1.0  # 4 classes: top-5 is always right
    assert len(result.history) == 4
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"] + 1e-9


def test_resume_after_kill_is_bitwise_identical(tmp_path):
    train, val = Blobs(120, 0), Blobs(40, 1)
    full = make_trainer(mlp(), val).fit(train)

    ckpt = tmp_path / "ckpt"
    killed = make_trainer(
        mlp(), val, checkpoint=Checkpoint(EveryEpoch(), str(ckpt)), callbacks=[StopAtEpoch(2)]
    )
    with pytest.raises(InterruptedError):
        killed.fit(train)
    assert find_latest(ckpt).endswith(f"ckpt-{2 * math.ceil(120 / 16):08d}.pt")

    # A fresh process would build a fresh model: different initial weights on purpose.
    resumed = make_trainer(mlp(seed=99), val, checkpoint=Checkpoint(EveryEpoch(), str(ckpt)))
    result = resumed.fit(train, resume=str(ckpt))
    for (name, a), b in zip(full.model.state_dict().items(), result.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert result.metrics == full.metrics
    assert result.history == full.history


def test_resume_mid_epoch_is_bitwise_identical(tmp_path):
    train, val = Blobs(100, 0), Blobs(30, 1)
    full = make_trainer(mlp(), val, end_trigger=MaxIteration(17)).fit(train)

    class StopAt(Callback):
        def on_batch_end(self, state, logs):
            if state.iteration == 10:
                raise InterruptedError

    ckpt = str(tmp_path / "c")
    with pytest.raises(InterruptedError):
        make_trainer(
            mlp(),
            val,
            end_trigger=MaxIteration(17),
            checkpoint=Checkpoint(SeveralIteration(3), ckpt),
            callbacks=[StopAt()],
        ).fit(train)
    assert find_latest(ckpt).endswith("ckpt-00000009.pt")  # 9 is mid-epoch 2 (7 steps/epoch)
    result = make_trainer(mlp(1), val, end_trigger=MaxIteration(17)).fit(train, resume=ckpt)
    for a, b in zip(full.model.state_dict().values(), result.model.state_dict().values()):
        assert torch.equal(a, b)
    assert result.history == full.history


def test_undecodable_items_are_skipped_and_counted():
    train = Blobs(64, 0, bad=(1, 5, 9))
    result = Trainer(mlp(), batch_size=16, end_trigger=MaxEpoch(2)).fit(train)
    assert result.state.skipped == 6  # three bad items, two epochs


def test_empty_training_set_is_a_clear_error():
    with pytest.raises(CrowdlensError, match="training set is empty"):
        Trainer(mlp()).fit(Blobs(0, 0))


def test_end_triggers():
    s = TrainState(epoch=3, iteration=30, loss=0.05, score=0.8)
    assert MaxEpoch(3)(s) and not MaxEpoch(4)(s)
    assert MaxIteration(30)(s) and not MaxIteration(31)(s)
    assert MinLoss(0.1)(s) and not MinLoss(0.01)(s)
    assert MaxScore(0.7)(s) and not MaxScore(0.9)(s)
    assert (MaxEpoch(10) | MinLoss(0.1))(s)
    assert (MaxEpoch(10) | MaxIteration(50)).max_iterations(10) == 50
    assert SeveralIteration(10)(s) and not SeveralIteration(7)(s)
    assert EveryEpoch()(TrainState(epoch_end=True)) and not EveryEpoch()(s)


def test_min_loss_and_max_score_stop_training_early():
    train, val = Blobs(200, 0), Blobs(80, 1)
    r = make_trainer(mlp(), val, end_trigger=MaxEpoch(50) | MaxScore(0.8)).fit(train)
    assert r.state.epoch < 50 and r.metrics["top1"] > 0.8
    r = Trainer(mlp(), optim=SGD(lr=0.1), end_trigger=MaxEpoch(50) | MinLoss(0.5)).fit(train)
    assert r.state.epoch < 50 and r.state.loss < 0.5


def test_bad_trigger_and_optimizer_values_use_the_standard_message():
    with pytest.raises(
        ConfigError, match=r"The 'n' parameter of MaxEpoch must be an int >= 1\. Got 0\."
    ):
        MaxEpoch(0)
    with pytest.raises(ConfigError, match="'lr' parameter of SGD"):
        SGD(lr=-1)
    with pytest.raises(ConfigError, match="'momentum' parameter of SGD"):
        SGD(momentum=1.5)


def test_schedules():
    assert Cosine().factor(0, 100, 10) == 1.0
    assert Cosine().factor(50, 100, 10) == pytest.approx(0.5)
    assert Cosine().factor(100, 100, 10) == pytest.approx(0.0)
    assert Poly(2).factor(50, 100, 10) == pytest.approx(0.25)
    assert Step(epochs=2, gamma=0.1).factor(19, 100, 10) == pytest.approx(1.0)
    assert Step(epochs=2, gamma=0.1).factor(20, 100, 10) == pytest.approx(0.1)
    w = Warmup(1, Cosine())
    assert w.factor(0, 110, 10) == pytest.approx(0.1)
    assert w.factor(9, 110, 10) == pytest.approx(1.0)
    assert w.factor(60, 110, 10) == pytest.approx(0.5)  # half-way through the cosine part


def test_schedule_needing_total_without_a_known_end_is_an_error():
    t = Trainer(mlp(), schedule=Cosine(), end_trigger=MinLoss(0.1))
    with pytest.raises(CrowdlensError, match="needs to know when training ends"):
        t.fit(Blobs(32, 0))


def test_adamw_and_gradient_clipping_train():
    train, val = Blobs(200, 0), Blobs(80, 1)
    r = Trainer(
        mlp(),
        optim=AdamW(lr=0.01),
        end_trigger=MaxEpoch(3),
        grad_clip_norm=1.0,
        validation=Validation(EveryEpoch(), val),
    ).fit(train)
    assert r.metrics["top1"] > 0.9


def test_metrics_on_known_logits():
    logits = torch.tensor([[3.0, 2, 1, 0, -1, -2], [0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0]])
    target = torch.tensor([0, 0, 5])
    top1, top5, loss = Top1Accuracy(), Top5Accuracy(), Loss()
    for m in (top1, top5, loss):
        m.update(logits, target)
    assert top1.result() == pytest.approx(1 / 3)
    assert top5.result() == pytest.approx(1 / 3)  # row 2 has its target 6th
    expected = torch.nn.functional.cross_entropy(logits, target).item()
    assert loss.result() == pytest.approx(expected)


def test_checkpoints_are_atomic_and_rotated(tmp_path):
    for it in (1, 2, 3):
        save_checkpoint(tmp_path, {"iteration": it, "x": it}, keep=2)
    names = [p.name for p in list_checkpoints(tmp_path)]
    assert names == ["ckpt-00000002.pt", "ckpt-00000003.pt"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(CrowdlensError, match="No checkpoint to resume from"):
        find_latest(tmp_path / "nothing")


def test_tensorboard_event_files_hold_loss_accuracy_lr_and_throughput(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train, val = Blobs(64, 0), Blobs(32, 1)
    make_trainer(mlp(), val, end_trigger=MaxEpoch(2), callbacks=[TensorBoard(str(tmp_path))]).fit(
        train
    )
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {
        "train/loss",
        "train/lr",
        "train/photos_per_s",
        "val/top1",
        "val/top5",
        "val/loss",
    } <= tags
    assert len(acc.Scalars("train/loss")) == 2 * 4
    assert [e.step for e in acc.Scalars("val/top1")] == [4, 8]
    assert all(e.value > 0 for e in acc.Scalars("train/photos_per_s"))
