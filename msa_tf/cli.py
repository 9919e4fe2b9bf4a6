"""The `msa-tf` command line.

Examples:
    msa-tf --version
    msa-tf models
    msa-tf generate multimodal --out data/synth --preset mosei --num-samples 2000 --shards 4
    msa-tf generate sequences --family mqar --format jsonl --out data/mqar --num-samples 10000
    msa-tf train configs/quickstart.yaml --set training.epochs=3
    msa-tf evaluate runs/quickstart --split valid
    msa-tf export runs/quickstart --format tflite
    msa-tf analyze sequences data/mqar --split valid --plots plots/mqar
    msa-tf synthesize runs/pix2pix --masks data/masks --variations 8 --out data/synthetic
    msa-tf generate av --out data/av --num-samples 200
    msa-tf preextract data/av --out data/av_features --set num_frames=8

Exit codes: 0 on success, 2 on a usage or config error, 1 on a failure during a run.
"""

import argparse
import os
import sys
import traceback

import msa_tf
from msa_tf.training.config import ConfigError
from msa_tf.validation import did_you_mean


def _summary(obj):
    doc = (obj.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def _registered_layers():
    """`{name: class}` of the layers registered under package `msa_tf` (models left out)."""
    import keras

    prefix = "msa_tf>"
    return {
        key[len(prefix):]: obj
        for key, obj in sorted(keras.saving.get_custom_objects().items())
        if key.startswith(prefix) and isinstance(obj, type) and issubclass(obj, keras.layers.Layer)
        and not issubclass(obj, keras.Model)
    }


def _print_rows(title, rows):
    width = max(len(name) for name, _ in rows)
    print(title)
    for name, summary in rows:
        print(f"  {name:<{width}}  {summary}")


def list_models(args):
    """Prints the zoo's models (by the name `msa_tf.models.get` takes), then the layers."""
    from msa_tf import models

    _print_rows("Models (msa_tf.models.get(name, ...), model.name in a config):",
                [(name, _summary(models.model_class(name))) for name in models.names()])
    print()
    _print_rows("Layers (msa_tf.layers):",
                [(name, _summary(cls)) for name, cls in _registered_layers().items()])
    return 0


class UsageError(ValueError):
    """A bad command-line value: reported on one line, exit code 2."""


def _parse_assignment(text):
    """`key=value` with a YAML value (numbers, booleans, lists, dicts)."""
    import yaml

    key, separator, value = text.partition("=")
    if not separator or not key:
        raise UsageError(f"`--set` takes key=value; received {text!r}")
    return key.strip(), yaml.safe_load(value)


def generate_multimodal(args):
    """Writes synthetic multimodal sentiment data to TFRecord shards."""
    import dataclasses

    from generators import MultimodalConfig, MultimodalGenerator, write_shards

    fields = _generator_settings(args, {field.name for field in dataclasses.fields(MultimodalConfig)})
    try:
        generator = MultimodalGenerator(preset=args.preset, **fields)
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from error
    result = write_shards(generator, args.out, splits=args.splits, num_shards=args.shards)
    print(f"wrote {result['written']} shards, skipped {result['skipped']} complete ones, in {args.out}")
    return 0


def _generator_settings(args, known):
    """The `--set` settings with `--num-samples` and `--seed`; an unknown one is a `UsageError`."""
    fields = dict(_parse_assignment(item) for item in args.set)
    fields.update(num_samples=args.num_samples, seed=args.seed)
    unknown = sorted(set(fields) - set(known))
    if unknown:
        hint = did_you_mean(unknown[0], sorted(known))
        raise UsageError(f"unknown generator setting {unknown[0]!r}{hint}; accepted: {sorted(known)}")
    return fields


def generate_sequences(args):
    """Writes synthetic token sequences of a family to TFRecord shards or JSONL files."""
    from generators.sequence_io import write_jsonl
    from generators.sequences import family_names, make_generator
    from generators.shards import write_shards
    from generators.validation import check_choice

    try:
        check_choice("--family", args.family, tuple(family_names()))
    except ValueError as error:
        raise UsageError(str(error)) from error
    fields = _generator_settings(args, set(make_generator(args.family).to_dict()) - {"family"})
    try:
        generator = make_generator(args.family, **fields)
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from error
    if args.format == "jsonl" and args.shards is not None:
        raise UsageError(f"`--shards` applies to --format tfrecord; received --shards {args.shards} "
                         "with --format jsonl")
    try:
        if args.format == "jsonl":
            result, what = write_jsonl(generator, args.out, splits=args.splits), "files"
        else:
            shards = 1 if args.shards is None else args.shards
            result, what = write_shards(generator, args.out, splits=args.splits, num_shards=shards), "shards"
    except ValueError as error:  # an argument the generator does not accept, or another folder
        raise UsageError(str(error)) from error
    print(f"wrote {result['written']} {what}, skipped {result['skipped']} complete ones, in {args.out}")
    return 0


def generate_av(args):
    """Writes synthetic talking-face clips (MP4 + WAV) with their labels."""
    from generators.av_clips import AVClipGenerator
    from generators.av_files import write_clips

    fields = _generator_settings(args, set(AVClipGenerator().to_dict()))
    try:
        generator = AVClipGenerator(**fields)
        result = write_clips(generator, args.out, splits=args.splits,
                             with_audio_track=args.with_audio_track, progress=sys.stderr.isatty())
    except ValueError as error:  # a bad setting, or a folder of another generator's clips
        raise UsageError(str(error)) from error
    categories = ", ".join(f"{name} {count}" for name, count in sorted(result["categories"].items()))
    print(f"wrote {result['written']} clips, skipped {result['skipped']} complete ones, in {args.out} "
          f"(categories: {categories})")
    return 0


def train(args):
    """Trains, evaluates and exports the experiment of a YAML config."""
    from msa_tf.training import config, runner

    experiment = config.load_config(args.config, args.set)
    # A progress bar redrawn at every step floods a log file or a pipe: one line per epoch there.
    runner.train(experiment, overwrite=args.overwrite, verbose="auto" if sys.stdout.isatty() else 2)
    return 0


def evaluate(args):
    """Evaluates a finished run's model on a split."""
    from msa_tf.training import runner

    overrides = [*args.set, *([f"task.aggregation={args.aggregation}"] if args.aggregation else [])]
    name = f"{os.path.basename(os.path.normpath(args.data))}-{args.split}" if args.data else args.split
    out = args.out or os.path.join(args.run_dir, "evaluation", name)
    runner.evaluate_run(args.run_dir, split=args.split, overrides=overrides, data_path=args.data, out=out)
    return 0


def export(args):
    """Exports a finished run's model."""
    from msa_tf.training import runner

    path = runner.export_run(args.run_dir, args.format, out=args.out)
    print(f"Wrote {path}")
    return 0


def synthesize(args):
    """Generates image/mask pairs from a Pix2Pix or VAE run, scores them, keeps the good ones."""
    from msa_tf.synthesis import synthesize as run_synthesis

    perturbation = dict(_parse_assignment(item) for item in args.perturb)
    try:
        synthesis = run_synthesis(
            args.run_dir, args.out, masks_dir=args.masks, variations=args.variations,
            min_quality=args.min_quality, vae_run=args.vae_run, perturbation=perturbation,
            reference_steps=args.reference_steps, seed=args.seed, overwrite=args.overwrite,
            progress=sys.stderr.isatty())
    except ValueError as error:
        raise UsageError(str(error)) from error
    kept = int(synthesis.kept.sum())
    print(f"kept {kept} of {len(synthesis.names)} pairs (score >= {args.min_quality}, mean score "
          f"{synthesis.scores.mean():.3f}); wrote images/, masks/, scores.csv, summary.json, "
          f"samples.png and scores.png in {args.out}")
    return 0


def _add_synthesize_command(commands):
    parser = commands.add_parser(
        "synthesize",
        help="new image/mask pairs from a pix2pix or vae run, scored and filtered",
        description=(
            "Generate image/mask pairs from a finished pix2pix run (images painted from perturbed "
            "masks of --masks), a vae run (pairs varied around its real training pairs) or both "
            "(a pix2pix run with --vae-run: hybrid). Each pair is scored (0.3 SSIM to the closest "
            "real image + 0.3 IoU of its mask with what a reference segmenter finds in it + 0.2 "
            "edge agreement + 0.2 diversity); the pairs scoring at least --min-quality go to "
            "OUT/images and OUT/masks, every score to OUT/scores.csv, KID and MS-SSIM to "
            "OUT/summary.json, plots to OUT/samples.png and OUT/scores.png. OUT is written whole "
            "or not at all."
        ),
        epilog=("Example: msa-tf synthesize runs/pix2pix --masks data/masks --variations 8 "
                "--out data/synthetic --min-quality 0.6"),
    )
    parser.add_argument("run_dir", help="a directory written by msa-tf train (model pix2pix or vae)")
    parser.add_argument("--out", required=True, help="output folder, new or empty")
    parser.add_argument("--masks", help="a folder of masks to vary (pix2pix runs)")
    parser.add_argument("--variations", type=int, default=4,
                        help="pairs per mask or per real training pair (default: 4)")
    parser.add_argument("--min-quality", type=float, default=0.5,
                        help="the score in [0, 1] a kept pair reaches (default: 0.5)")
    parser.add_argument("--vae-run", help="a vae run whose pairs join a pix2pix run's (hybrid)")
    parser.add_argument("--perturb", action="append", default=[], metavar="KIND=STRENGTH",
                        help="mask perturbation strength in [0, 1]: elastic, morphology or noise "
                             "(default 0.5 each), e.g. --perturb elastic=0.8")
    parser.add_argument("--reference-steps", type=int, default=300,
                        help="training steps of the reference segmenter (default: 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty OUT")
    parser.set_defaults(handler=synthesize)


def preextract(args):
    """Decodes clip files once into TFRecord shards of face frames and log-mel spectrograms."""
    from msa_tf.data.av_datasets import read_clip_records
    from msa_tf.data.av_features import ClipFeatures
    from msa_tf.data.av_shards import preextract as write_shards

    settings = dict(_parse_assignment(item) for item in args.set)
    known = [name for name in ClipFeatures.__dataclass_fields__]
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise UsageError(f"unknown setting {unknown[0]!r}{did_you_mean(unknown[0], known)}; "
                         f"accepted: {', '.join(known)}")
    try:
        features = ClipFeatures(**settings)
        found = read_clip_records(args.data, layout=args.layout, skip_bad_files=args.skip_bad_files)
        records = {split: found.split(split) for split in ("train", "valid", "test")}
        metadata = write_shards(records, features, args.out, copies=args.copies, seed=args.seed,
                                skip_bad_files=args.skip_bad_files, workers=args.workers,
                                progress=sys.stderr.isatty(), overwrite=args.overwrite,
                                skipped=found.skipped)
    except ValueError as error:
        raise UsageError(str(error)) from error
    report = metadata["report"]
    counts = ", ".join(f"{split} {len(part['clips'])}" for split, part in metadata["splits"].items())
    print(f"wrote {report['clips']} clips ({counts}) to {args.out}: faces found in {report['faces_found']}, "
          f"centre crops {report['centre_crops']}, skipped {len(report['skipped'])} bad files")
    for path, reason in report["skipped"]:
        print(f"  skipped {path}: {reason}")
    return 0


def _add_preextract_command(commands):
    parser = commands.add_parser(
        "preextract",
        help="decode audio-visual clips once into shards of face frames and log-mel spectrograms",
        description=(
            "Read the clips of DATA (a folder in one of the layouts folder (labels.csv), "
            "fakeavceleb, lavdf, avdeepfake1m or dfdc), sample num_frames frames and the audio of "
            "each clip's window, crop the face (OpenCV's Haar cascade; a centre crop where none is "
            "found), compute the log-mel spectrogram and write TFRecord shards and metadata.json "
            "(settings, clips, report) to OUT, which the av_shards source reads with no Python "
            "in the training loop."
        ),
        epilog=("Example: msa-tf preextract data/av --out data/av_features --set num_frames=8 "
                "--set face_size=64 --set augment=true --copies 2"),
    )
    parser.add_argument("data", help="a folder of clips with their labels")
    parser.add_argument("--out", required=True, help="output folder, new or empty")
    parser.add_argument("--layout", default="auto", help="auto (default), folder, fakeavceleb, lavdf, "
                        "avdeepfake1m or dfdc")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a decoding setting, e.g. num_frames=8, face_size=64, clip_seconds=2.0, "
                             "sampling=uniform, n_mels=64, face_detector=center or augment=true")
    parser.add_argument("--copies", type=int, default=1,
                        help="differently augmented copies of each training clip (with augment)")
    parser.add_argument("--skip-bad-files", action="store_true",
                        help="leave out unreadable or too short clips and list them, instead of failing")
    parser.add_argument("--workers", type=int, default=4, help="decoding threads (default: 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty OUT")
    parser.set_defaults(handler=preextract)


def analyze_sequences(args):
    """Measures and checks token sequences: prints the report and the problems, writes plots."""
    from generators.sequence_analysis import OutOfVocabularyError, analyze, format_report, validate
    from msa_tf.data.sequences import open_sequence_data
    from msa_tf.training.plots import plot_sequence_analysis

    for name in ("vocab_size", "seq_length", "max_length"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise UsageError(f"`--{name.replace('_', '-')}` must be a positive integer; received "
                             f"{getattr(args, name)}")
    if args.min_length < 0:
        raise UsageError(f"`--min-length` must be an integer >= 0; received {args.min_length}")
    if args.max_length is not None and args.max_length < args.min_length:
        raise UsageError(f"`--max-length` must be at least --min-length={args.min_length}; "
                         f"received {args.max_length}")
    try:
        data = open_sequence_data(args.path, split=args.split, seq_length=args.seq_length or 256)
    except ValueError as error:
        raise UsageError(str(error)) from error
    try:  # a bad line or byte in the data: exit 1 with the cause, no traceback
        vocab_size = args.vocab_size or data.vocab_size
        try:
            report = analyze(data.batches(), vocab_size=vocab_size)
        except OutOfVocabularyError:  # listed in the problems; the report counts up to the largest id
            report = analyze(data.batches())
        vocab_size = vocab_size or report["vocab_size"]
        problems = validate(data.batches(), vocab_size, args.min_length, args.max_length)
    except ValueError as error:
        print(f"msa-tf analyze: failed: {error}", file=sys.stderr)
        return 1
    where = f"{data.path} [{data.split}]" if data.split else data.path
    print(f"{where}: {data.kind}, vocab_size={vocab_size}")
    print(format_report(report))
    if problems:
        print(f"{len(problems)} problem(s):")
        for problem in problems:
            print(f"  - {problem}")
    else:
        print(f"no problems (tokens in [0, {vocab_size}), lengths >= {args.min_length}"
              f"{'' if args.max_length is None else f' and <= {args.max_length}'})")
    out = args.plots or _analysis_folder(data)
    paths = plot_sequence_analysis(report, out)
    print(f"wrote {', '.join(path.name for path in paths)} in {out}")
    return 1 if problems else 0


def _analysis_folder(data):
    """Where the plots of `data` go by default: `<file stem>_analysis` beside a file,
    `<folder>_analysis` beside a folder, in a subfolder per split for data with splits."""
    base = os.path.normpath(data.path)
    if os.path.isfile(base):
        base = os.path.splitext(base)[0]
    out = base + "_analysis"
    return os.path.join(out, data.split) if data.split else out


def _add_analyze_command(commands):
    analyze_parser = commands.add_parser(
        "analyze",
        help="measure and check a data set",
        description="Measure a data set, check it, print a report and write plots.",
        epilog="Example: msa-tf analyze sequences data/mqar --split valid",
    )
    kinds = analyze_parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    sequences = kinds.add_parser(
        "sequences",
        help="token sequences: JSONL, sequence shards or UTF-8 text",
        description=(
            "Measure token sequences (lengths, vocabulary, rank-frequency slope, n-grams, "
            "coherence, diversity, entropy, patterns, compressibility), print the report, list "
            "the problems (empty or too short or long sequences, ids outside the vocabulary) "
            "and write rank_frequency.png, lengths.png, entropy.png and complexity.png. PATH is "
            "a JSONL file (.jsonl), a folder written by msa-tf generate sequences (JSONL or "
            "shards), or UTF-8 text (any other file, or a folder of .txt files) read as bytes. "
            "Exit code 1 when there are problems."
        ),
        epilog=("Example: msa-tf analyze sequences data/mqar --split valid --vocab-size 512 "
                "--max-length 256 --plots plots/mqar"),
    )
    sequences.add_argument("path", metavar="PATH", help="a .jsonl file, a folder of sequences or UTF-8 text")
    sequences.add_argument("--vocab-size", type=int,
                           help="the number of token ids (default: the folder's generator config, "
                                "260 for text, else the largest id + 1)")
    sequences.add_argument("--min-length", type=int, default=1,
                           help="the fewest real tokens a sequence may have (default: 1)")
    sequences.add_argument("--max-length", type=int, help="the most real tokens a sequence may have")
    sequences.add_argument("--split", help="train, valid or test, for a folder with splits (default: "
                                           "train); a single file is read whole")
    sequences.add_argument("--seq-length", type=int,
                           help="for text: tokens per sequence, one per byte and a BOS per file "
                                "(default: 256)")
    sequences.add_argument("--plots", metavar="DIR",
                           help="where to write the plots (default: beside PATH, <PATH>_analysis)")
    sequences.set_defaults(handler=analyze_sequences)


def _add_set_argument(parser, example):
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help=f"override any config key with a YAML value, e.g. {example}",
    )


def _add_run_commands(commands):
    train_parser = commands.add_parser(
        "train",
        help="train, evaluate and export the experiment of a YAML config",
        description=(
            "Train the experiment of a YAML config, evaluate it on the test split, print the "
            "metrics and write the run directory (config, history, metrics, model.keras, "
            "SavedModel, plots). Running the same command again resumes an interrupted run."
        ),
        epilog="Example: msa-tf train configs/quickstart.yaml --set training.epochs=3",
    )
    train_parser.add_argument("config", help="a YAML experiment config, e.g. configs/quickstart.yaml")
    _add_set_argument(train_parser, "training.epochs=3 or model.model_dim=64")
    train_parser.add_argument("--overwrite", action="store_true",
                              help="replace a finished run in the output directory")
    train_parser.set_defaults(handler=train)

    evaluate_parser = commands.add_parser(
        "evaluate",
        help="evaluate a finished run on a split",
        description=("Evaluate a finished run's model.keras on a split, print the metrics table and "
                     "write metrics.json, the task's plots and, for deepfake detection, "
                     "predictions.csv (one row per clip) into --out."),
        epilog="Example: msa-tf evaluate runs/av_detector --data data/fakeavceleb --aggregation max",
    )
    evaluate_parser.add_argument("run_dir", help="a directory written by msa-tf train")
    evaluate_parser.add_argument("--split", default="test", help="train, valid or test (default: test)")
    evaluate_parser.add_argument("--data", help="other data of the run's kind to evaluate on: an MMSA "
                                 "feature file or shards folder (sentiment), a JSONL file or folder, "
                                 "sequence shards or UTF-8 text (language models), a folder of clips "
                                 "or of pre-extracted clips (deepfake detection)")
    evaluate_parser.add_argument("--aggregation", choices=("mean", "max"),
                                 help="deepfake detection: how clip scores make a video's score")
    evaluate_parser.add_argument("--out", help="where to write the results (default: "
                                 "RUN_DIR/evaluation/<data name>-<split>)")
    _add_set_argument(evaluate_parser, "data.missing_rate=0.3")
    evaluate_parser.set_defaults(handler=evaluate)

    export_parser = commands.add_parser(
        "export",
        help="export a finished run's model",
        description="Export a finished run's model as a .keras file, a SavedModel or a TFLite flatbuffer.",
        epilog="Example: msa-tf export runs/quickstart --format tflite",
    )
    export_parser.add_argument("run_dir", help="a directory written by msa-tf train")
    export_parser.add_argument("--format", required=True, help="keras, saved_model or tflite")
    export_parser.add_argument("--out", help="where to write (default: inside the run directory)")
    export_parser.set_defaults(handler=export)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="msa-tf",
        description="Keras 3 model zoo and dataset generators for multimodal deep learning.",
        epilog="Example: msa-tf models",
    )
    parser.add_argument("--version", action="version", version=f"msa-tf {msa_tf.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    models = commands.add_parser(
        "models",
        help="list the zoo's models and the layers",
        description="List the zoo's models and the registered layers, a line each.",
        epilog="Example: msa-tf models",
    )
    models.set_defaults(handler=list_models)

    generate = commands.add_parser(
        "generate",
        help="write synthetic data sets (TFRecord shards, JSONL files, MP4 + WAV clips)",
        description=("Write synthetic data sets to TFRecord shards (token sequences also to JSONL "
                     "files; audio-visual clips as MP4 and WAV files)."),
        epilog="Example: msa-tf generate multimodal --out data/synth --num-samples 1000",
    )
    kinds = generate.add_subparsers(dest="kind", metavar="KIND", required=True)
    multimodal = kinds.add_parser(
        "multimodal",
        help="multimodal sentiment data (text, audio, vision, targets)",
        description=(
            "Write synthetic multimodal sentiment data: num-samples examples per split, "
            "in shards that a re-run completes without redoing finished ones."
        ),
        epilog=(
            "Example: msa-tf generate multimodal --out data/synth --preset mosei "
            "--num-samples 2000 --shards 4 --set interaction=synergy --set missing_rate=0.1"
        ),
    )
    multimodal.add_argument("--out", required=True, help="output directory")
    multimodal.add_argument("--num-samples", type=int, default=1000, help="examples per split")
    multimodal.add_argument("--shards", type=int, default=1, help="shards per split")
    multimodal.add_argument("--preset", help="mosi, mosi_unaligned, mosei, mosei_unaligned or sims")
    multimodal.add_argument("--seed", type=int, default=0)
    multimodal.add_argument(
        "--splits", nargs="+", default=["train", "valid", "test"], help="splits to write"
    )
    multimodal.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help=("any generator setting, e.g. correlation_strength=0.3 or "
              "max_length={text: 20, audio: 40, vision: 30}"),
    )
    multimodal.set_defaults(handler=generate_multimodal)
    sequences = kinds.add_parser(
        "sequences",
        help="token sequences of a family (pattern, mqar, planted, ...)",
        description=(
            "Write synthetic token sequences of a generators.sequences family: num-samples "
            "sequences per split, as TFRecord shards (every field, read back with "
            "generators.shards.read_shards) or JSONL files (real tokens and metadata, a line "
            "each). A re-run completes what an interrupted one left, without redoing finished files."
        ),
        epilog=(
            "Example: msa-tf generate sequences --family mqar --format jsonl --out data/mqar "
            "--num-samples 10000 --set seq_length=256 --set num_pairs=16"
        ),
    )
    sequences.add_argument("--family", default="pattern",
                           help="the family (default: pattern), e.g. random, pattern, mqar, planted")
    sequences.add_argument("--format", choices=("tfrecord", "jsonl"), default="tfrecord",
                           help="tfrecord (default) or jsonl")
    sequences.add_argument("--out", required=True, help="output directory")
    sequences.add_argument("--num-samples", type=int, default=1000, help="sequences per split")
    sequences.add_argument("--shards", type=int, help="shards per split, for --format tfrecord (default: 1)")
    sequences.add_argument("--seed", type=int, default=0)
    sequences.add_argument("--splits", nargs="+", default=["train", "valid", "test"],
                           choices=("train", "valid", "test"), help="splits to write")
    sequences.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="any setting of the family, e.g. seq_length=256, vocab_size=512 or pattern_types=[repetition]",
    )
    sequences.set_defaults(handler=generate_sequences)
    av = kinds.add_parser(
        "av",
        help="talking-face clips, real and fake (MP4 + 16 kHz WAV, labels.csv)",
        description=(
            "Write synthetic talking-face clips: num-samples per split, each an MP4 and a 16 kHz WAV "
            "(and with --with-audio-track an MP4 with its audio), real or fake (lip-sync mismatch, "
            "face blend, voice manipulation: FakeAVCeleb's categories A-D and E for lip-sync fakes), "
            "listed in labels.csv. Each clip is written whole or not at all; a re-run completes an "
            "interrupted one without redoing finished clips."
        ),
        epilog=("Example: msa-tf generate av --out data/av --num-samples 200 "
                "--set fake_kinds=[lip_sync] --set image_size=128"),
    )
    av.add_argument("--out", required=True, help="output directory")
    av.add_argument("--num-samples", type=int, default=100, help="clips per split")
    av.add_argument("--seed", type=int, default=0)
    av.add_argument("--splits", nargs="+", default=["train", "valid", "test"],
                    choices=("train", "valid", "test"), help="splits to write")
    av.add_argument("--with-audio-track", action="store_true",
                    help="also write each clip as one MP4 with its audio track (ffmpeg)")
    av.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="any generator setting, e.g. fps=25, duration=2.0, image_size=96, "
                         "fake_kinds=[lip_sync, face], fake_fraction=0.5 or partial_fraction=0.3")
    av.set_defaults(handler=generate_av)
    _add_analyze_command(commands)
    _add_run_commands(commands)
    _add_synthesize_command(commands)
    _add_preextract_command(commands)
    return parser


def main(argv=None):
    # TensorFlow's C++ start-up messages are noise on the command line.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except (UsageError, ConfigError) as error:
        print(f"msa-tf {args.command}: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a failure during the run: exit code 1, the cause on the last line
        from msa_tf.training.runner import RunError

        if not isinstance(error, RunError):
            traceback.print_exc()
        print(f"msa-tf {args.command}: failed: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
