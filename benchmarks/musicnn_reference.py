"""Make tests/fixtures/musicnn_reference.npz with the ORIGINAL musicnn TensorFlow graph.

Run once, outside mirplug's dependencies, in a throw-away environment::

    python3 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow-cpu tf-keras numpy librosa
    /tmp/tfenv/bin/pip install --no-deps musicnn==0.1.0
    TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python benchmarks/musicnn_reference.py tests/fixtures/musicnn_reference.npz

The clip is a fixed 3 s chirp plus seeded noise at 16 kHz (stored in the fixture as
float16 so the test feeds exactly the same samples). The log-mel is computed as
``musicnn.extractor.batch_data`` does (librosa mel, float16, log10(1 + 10000 x)) with
``pad_mode="reflect"``, the default of the librosa versions musicnn was released with;
the graph is ``musicnn.models.define_model`` restored from the package's checkpoints.
"""

from __future__ import annotations

import os
import sys

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def clip() -> np.ndarray:
    """3 s at 16 kHz: a 100 Hz -> 4 kHz log chirp plus a tone burst and seeded noise, peak 0.05.

    The level is low on purpose: musicnn computes ``10000 * mel`` in float16, which overflows
    to infinity (and the graph to NaN) once a mel bin exceeds 6.55.
    """
    sr, seconds = 16000, 3.0
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * 100 * seconds / np.log(40) * (40 ** (t / seconds) - 1)
    wave = 0.2 * np.sin(phase) + 0.05 * np.random.default_rng(0).standard_normal(t.size)
    wave += 0.1 * (np.sin(2 * np.pi * 2 * t) > 0.95) * np.sin(2 * np.pi * 220 * t)
    wave = 0.05 * wave / np.abs(wave).max()
    return wave.astype(np.float16).astype(np.float32)


def main(out: str) -> None:
    import librosa
    import tensorflow as tf
    from musicnn import configuration as config
    from musicnn import models

    tf.compat.v1.disable_eager_execution()
    wave = clip()
    mel = librosa.feature.melspectrogram(y=wave, sr=config.SR, hop_length=config.FFT_HOP, n_fft=config.FFT_SIZE,
                                         n_mels=config.N_MELS, pad_mode="reflect").T
    mel16 = mel.astype(np.float16)
    logmel = np.log10(10000 * mel16 + 1)  # float16 arithmetic, exactly as musicnn
    patch = logmel[:187].astype(np.float32)[None]
    assert np.isfinite(patch).all(), "float16 overflow in musicnn's log-mel; lower the clip level"
    result = {"waveform": wave.astype(np.float16), "mel_power": mel[:187].astype(np.float32),
              "logmel": patch[0]}
    for weights in ("MSD", "MTT"):
        model = f"{weights}_musicnn"
        tf.compat.v1.reset_default_graph()
        with tf.name_scope("model"):
            x = tf.compat.v1.placeholder(tf.float32, [None, 187, config.N_MELS])
            is_training = tf.compat.v1.placeholder(tf.bool)
            y, _, _, _, _, _, mean_pool, max_pool, penultimate = models.define_model(x, is_training, model, 50)
            taggram = tf.nn.sigmoid(y)
        with tf.compat.v1.Session() as session:
            tf.compat.v1.train.Saver().restore(session, os.path.dirname(models.__file__) + "/" + model + "/")
            values = session.run([taggram, penultimate, mean_pool, max_pool], {x: patch, is_training: False})
        for name, value in zip(("taggram", "penultimate", "mean_pool", "max_pool"), values):
            result[f"{weights}_{name}"] = np.asarray(value, dtype=np.float32)[0]
    result["versions"] = np.array(f"tensorflow {tf.__version__}, librosa {librosa.__version__}, musicnn 0.1.0")
    np.savez_compressed(out, **result)
    print({k: v.shape for k, v in result.items()})


if __name__ == "__main__":
    main(sys.argv[1])
