"""TrainConfig: the recipe's defaults and one clear error per bad setting."""

import pytest

from coursekit.face import TrainConfig


def test_defaults_are_the_course_recipe():
    cfg = TrainConfig()
    assert (cfg.people_per_batch, cfg.images_per_person, cfg.epochs) == (10, 6, 200)
    assert (cfg.strategy, cfg.aux_loss, cfg.aux_label_smoothing) == ("batch_hard", "arcface", 0.3)
    assert cfg.ema_decay == cfg.swa_fraction == cfg.erase_prob == cfg.spread_weight == 0.0
    assert cfg.aux_mix is None and cfg.precise_bn is None and not cfg.soft_margin


def test_config_validation():
    with pytest.raises(ValueError, match="strategy"):
        TrainConfig(strategy="hardest")
    with pytest.raises(ValueError):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="aux_loss"):
        TrainConfig(aux_loss="sphereface")
    with pytest.raises(ValueError, match="aux_weight"):
        TrainConfig(aux_weight=-1.0)
    with pytest.raises(ValueError, match="aux_label_smoothing"):
        TrainConfig(aux_label_smoothing=1.0)
