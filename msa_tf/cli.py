"""The `msa-tf` command line.

Examples:
    msa-tf --version
    msa-tf models
"""

import argparse
import os
import sys

import msa_tf


def _registered_classes():
    """`{name: class}` for every layer and model registered under package `msa_tf`."""
    import keras

    import msa_tf.layers  # noqa: F401  (registers the layers)

    prefix = "msa_tf>"
    return {
        key[len(prefix) :]: obj
        for key, obj in sorted(keras.saving.get_custom_objects().items())
        if key.startswith(prefix) and isinstance(obj, type)
    }


def _summary(obj):
    doc = (obj.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def list_models(args):
    """Prints every registered layer and model with its one-line description."""
    import keras

    rows = []
    for name, cls in _registered_classes().items():
        kind = "model" if issubclass(cls, keras.Model) else "layer"
        rows.append((name, kind, _summary(cls)))
    width = max(len(name) for name, _, _ in rows)
    for name, kind, summary in rows:
        print(f"{name:<{width}}  {kind:<5}  {summary}")
    return 0


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
        help="list the registered layers and models",
        description="List every registered layer and model with a one-line description.",
        epilog="Example: msa-tf models",
    )
    models.set_defaults(handler=list_models)
    return parser


def main(argv=None):
    # TensorFlow's C++ start-up messages are noise on the command line.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
