"""Audio-visual pipeline and detector speed: decode limit, on the fly, pre-extracted, training.

Prints, in one run, on `--clips` synthetic clips (`generators.av_clips` at the size and
duration of `--config`, configs/deepfake/av_detector.yaml: 64 x 64, 1 s at 25 fps;
written as MP4 + WAV to a temporary folder), or the clips of `--data DIR`, decoded with
that config's settings (16 frames of the lower face at 32 x 32, a 32-band log-mel):

- the raw OpenCV decode rate: frames/s of `cv2.VideoCapture.read` over every frame of
  the same MP4s, one thread. Sampling `--num-frames` frames of a clip decodes the
  frames up to the last one sampled, so the decode limit in clips/s is that rate over
  the frames decoded per clip (`limit`);
- the pipeline's clips/s on the fly (the `av_clips` source: OpenCV, Haar face crops,
  librosa log-mel, `--workers` threads) and pre-extracted (the `av_shards` source:
  TFRecord shards read by `tf.data`), each over two passes after a warm-up batch, with
  their ratio to the limit; and the time that pre-extraction took;
- training clips/s of the config's model (`av_detector`: `small_cnn`, transformer,
  `cross_modal` fusion, width 32, modality heads) from one batch held in memory, with
  GFLOP per step and MFU as
  benchmarks/bench_models.py measures them (`time_fit`, float32 matmul peak);
  `--precision mixed_float16` on a GPU.

    python benchmarks/bench_av.py
    python benchmarks/bench_av.py --clips 16 --steps 2 --windows 1
    python benchmarks/bench_av.py --precision mixed_float16    # on a GPU
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

# Sets XLA_FLAGS to dump the modules XLA compiles (read at the first XLA compile, not on import).
from bench_models import JIT_CHOICES, matmul_flops_per_second, time_fit  # noqa: E402
from generators.av_clips import AVClipGenerator  # noqa: E402
from generators.av_files import write_clips  # noqa: E402
from in_memory import repeated  # noqa: E402
from msa_tf import models  # noqa: E402
from msa_tf.data import get_source  # noqa: E402
from msa_tf.data.av_decode import frame_times, video_info  # noqa: E402
from msa_tf.data.av_sources import FEATURE_ARGUMENTS  # noqa: E402
from msa_tf.tasks import get_task  # noqa: E402
from msa_tf.training.config import TrainingConfig, load_config  # noqa: E402

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "configs", "deepfake",
                      "av_detector.yaml")


def decode_rate(paths):
    """Frames/s of reading every frame of `paths` with OpenCV, one thread."""
    frames, start = 0, time.perf_counter()
    for path in paths:
        capture = cv2.VideoCapture(path)
        while capture.read()[0]:
            frames += 1
        capture.release()
    return frames / (time.perf_counter() - start)


def frames_decoded_per_clip(path, num_frames, clip_seconds):
    """The frames decoded to sample `num_frames` from a clip: up to the last one sampled."""
    count, fps = video_info(path)
    last = min(int(frame_times(0.0, clip_seconds, num_frames)[-1] * fps), count - 1)
    return last + 1


def pipeline_rate(source, batch_size, passes=2):
    """Clips/s of the training split of `source`, over `passes` after a warm-up batch."""
    dataset = source.dataset("train", batch_size)
    next(iter(dataset))
    clips, start = 0, time.perf_counter()
    for _ in range(passes):
        for _, targets in dataset:
            clips += len(targets["label"])
    return clips / (time.perf_counter() - start)


def training_rate(source, config, args):
    """Clips/s, GFLOP per step and seconds of the warm-up of the config's model's `fit`."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = models.get(config.model.name, **source.model_arguments(), **config.model.arguments)
    batch = next(iter(source.dataset("train", args.batch_size, drop_remainder=True)))
    inputs, targets = batch
    outputs = sorted(model(inputs))
    losses, _ = get_task("deepfake_detection", source).losses(outputs)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss=losses,
                  jit_compile=JIT_CHOICES[args.jit_compile])
    targets = {name: targets[name] for name in outputs}
    timed = time_fit(model, {"cached": repeated((inputs, targets))}, args.steps, args.windows)
    steps_per_second = args.steps / timed["median"]["cached"]
    return dict(clips=steps_per_second * args.batch_size, steps_per_second=steps_per_second,
                flops=timed["flops"], warm_up=timed["warm_up"], params=model.count_params(),
                jit_compile=model.jit_compile)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="a folder of clips (default: synthetic clips in a temporary folder)")
    parser.add_argument("--config", default=CONFIG, help="a deepfake config (default: av_detector.yaml)")
    parser.add_argument("--clips", type=int, default=64, help="synthetic training clips")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--windows", type=int, default=2)
    parser.add_argument("--precision", choices=PRECISIONS, default="float32")
    parser.add_argument("--matmul-size", type=int, default=2048)
    default_jit = {value: key for key, value in JIT_CHOICES.items()}[TrainingConfig.jit_compile]
    parser.add_argument("--jit-compile", choices=tuple(JIT_CHOICES), default=default_jit)
    args = parser.parse_args()
    keras.mixed_precision.set_dtype_policy(args.precision)
    config = load_config(args.config)
    work = tempfile.mkdtemp(prefix="bench_av_")
    data = args.data or os.path.join(work, "clips")
    settings = config.data.arguments
    if args.data is None:
        sizes = {key: settings["generator"][key] for key in ("image_size", "duration")}
        generator = AVClipGenerator(num_samples={"train": args.clips, "valid": 0, "test": 0}, **sizes)
        write_clips(generator, data, progress=False)
    features = {key: value for key, value in settings.items() if key in FEATURE_ARGUMENTS}
    features["workers"] = args.workers
    on_the_fly = get_source("av_clips", path=data, valid_fraction=0.0, test_fraction=0.0, **features)
    paths = [row["file"] for row in on_the_fly.clips("train")]
    decoded = decode_rate(paths)
    per_clip = frames_decoded_per_clip(paths[0], features["num_frames"], features["clip_seconds"])
    limit = decoded / per_clip
    start = time.perf_counter()
    pre = get_source("av_clips", path=data, valid_fraction=0.0, test_fraction=0.0,
                     preextracted=os.path.join(work, "features"), **features)
    pre.clips("train")
    extraction = time.perf_counter() - start
    rates = {"on the fly": pipeline_rate(on_the_fly, args.batch_size),
             "pre-extracted": pipeline_rate(pre, args.batch_size)}
    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    print(f"{len(paths)} clips of {features['clip_seconds']:g} s; {features['num_frames']} frames of "
          f"{features['face_size']}x{features['face_size']} ({features.get('face_region', 'face')}) and "
          f"{features['n_mels']} mel bands per clip ({os.path.basename(args.config)}); {device}")
    print(f"OpenCV decode: {decoded:.0f} frames/s (one thread); {per_clip} frames decoded per clip -> "
          f"limit {limit:.1f} clips/s")
    for name, rate in rates.items():
        print(f"pipeline {name:<14} {rate:8.1f} clips/s  ({rate / limit:.2f} x the decode limit)")
    print(f"pre-extraction took {extraction:.1f} s ({len(paths) / extraction:.1f} clips/s, "
          f"{args.workers} workers; faces found in {pre.report['faces_found']} of {pre.report['clips']})")
    peak = matmul_flops_per_second(args.matmul_size)
    result = training_rate(pre, config, args)
    mfu = 100 * result["flops"] * result["steps_per_second"] / peak
    print(f"training {config.model.name} ({result['params']:,} params, batch {args.batch_size}, "
          f"{args.precision}, "
          f"jit_compile={result['jit_compile']}): {result['clips']:.1f} clips/s, "
          f"{result['flops'] / 1e9:.2f} GFLOP/step, MFU {mfu:.2f}% of {peak / 1e9:.1f} GFLOP/s "
          f"(warm-up {result['warm_up']:.0f} s)")


if __name__ == "__main__":
    main()
