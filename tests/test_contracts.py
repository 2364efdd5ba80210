"""Contract tests run over every registered representation, backbone and augmenter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirplug.catalog import load_catalog

CATALOG = load_catalog()
SAMPLE_RATE = 16000


def _waves(batch: int = 3, seconds: float = 0.5) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return 0.1 * torch.randn(batch, int(seconds * SAMPLE_RATE), generator=generator)


@pytest.mark.parametrize("name", CATALOG.names("representation"))
def test_representation_contract(name):
    representation = CATALOG.get("representation", name).build({})
    waves = _waves()
    features = representation(waves)
    assert features.dtype == torch.float32
    assert features.shape[0] == 3 and features.dim() in (2, 3)
    assert torch.isfinite(features).all()
    assert torch.equal(representation(waves), features)  # deterministic
    one_by_one = torch.cat([representation(w.unsqueeze(0)) for w in waves])
    torch.testing.assert_close(one_by_one, features, rtol=1e-4, atol=1e-4)  # a batch equals its items
    assert representation.sample_rate == SAMPLE_RATE
    if features.dim() == 3:
        expected = representation.frame_rate * waves.shape[1] / SAMPLE_RATE
        assert abs(features.shape[2] - expected) <= 1 + expected * 0.01


@pytest.mark.parametrize("name", CATALOG.names("backbone"))
def test_backbone_contract(name):
    spec = CATALOG.get("backbone", name)
    if spec.expects == "waveform":
        representation = CATALOG.get("representation", "waveform").build({"sample_rate": spec.sample_rate})
    else:
        representation = CATALOG.get("representation", "mel").build({})
    features = representation(_waves(4, 1.0))
    torch.manual_seed(0)
    backbone = spec.build(spec.option_defaults(), input_shape=tuple(features.shape[1:]),
                          frame_rate=representation.frame_rate).eval()
    with torch.no_grad():
        embeddings = backbone(features)
        assert embeddings.shape == (4, backbone.embedding_dim)
        assert embeddings.dtype == torch.float32
        assert torch.isfinite(embeddings).all()
        assert torch.equal(backbone(features), embeddings)
        one_by_one = torch.cat([backbone(f.unsqueeze(0)) for f in features])
        torch.testing.assert_close(one_by_one, embeddings, rtol=1e-4, atol=1e-4)
        if backbone.frame_rate is not None:
            frames = backbone.frames(features)
            assert frames.shape[0] == 4 and frames.shape[2] == backbone.embedding_dim
            assert backbone.timestamps(frames.shape[1]).shape == (frames.shape[1],)


@pytest.mark.parametrize("name", CATALOG.names("augmenter"))
def test_augmenter_contract(name):
    spec = CATALOG.get("augmenter", name)
    if spec.stage == "generator":
        pytest.skip("generators have their own lifecycle tests")
    transform = spec.build({**spec.option_defaults(), "p": 1.0})
    example = _waves(1, 1.0)[0]
    if spec.stage == "features":
        example = CATALOG.get("representation", "mel").build({})(example.unsqueeze(0))[0]
    first, params = transform(example, np.random.default_rng(7))
    second, params_again = transform(example, np.random.default_rng(7))
    assert params is not None and params == params_again  # seeded, parameters recorded
    assert torch.equal(first, second)
    assert torch.equal(transform.apply(example, params), first)  # replayable from the record
    assert first.shape == example.shape and first.dtype == example.dtype
    assert torch.isfinite(first).all()
    skipped = spec.build({**spec.option_defaults(), "p": 0.0})
    untouched, none = skipped(example, np.random.default_rng(7))
    assert none is None and torch.equal(untouched, example)
