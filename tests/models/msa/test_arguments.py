"""One argument vocabulary across the zoo: every model checks its arguments and names them."""

import pytest

from msa_tf import models
from msa_tf.modalities import MODALITIES
from msa_tf.validation import constructor_arguments

from .conftest import DIMS, LENGTH, MODEL_ARGS

# A value each argument of the zoo rejects. A new argument needs one here.
BAD_VALUES = {
    "seq_len": 0, "text_dim": 0, "audio_dim": -1, "vision_dim": 2.5, "model_dim": 0, "num_heads": 0,
    "ff_dim": None, "num_layers": -1, "num_cross_layers": 0, "quality_dim": 0, "post_fusion_dim": 0,
    "rank": 0, "dropout": 1.5, "attention_dropout": -0.1, "embedding_dropout": 1.0,
    "output_dropout": float("nan"), "modality_dropout": 1.0, "ema_decay": 1.0, "aux_weight": -1,
    "balance": "high", "seed": -1, "bidirectional_fusion": "yes", "causal": "no", "conv_kernel_sizes": 0,
    "conv_padding": "full", "pooling": "median", "text_vocab_size": 0, "num_classes": 0,
    "modality": "video", "modalities": ("text", "smell"), "residual_dropout": 2.0, "text_dropout": -1.0,
}
ARGUMENTS = [(name, argument) for name in sorted(MODEL_ARGS)
             for argument in constructor_arguments(models.model_class(name))]
DATA_ARGUMENTS = ("seq_len", "text_dim", "audio_dim", "vision_dim")
WITH_POSITION_TABLES = ("msa", "msa_balanced", "msa_seqlevel", "unimodal")


@pytest.mark.parametrize("name, argument", ARGUMENTS, ids=[f"{n}-{a}" for n, a in ARGUMENTS])
def test_a_bad_value_raises_an_error_that_names_the_argument(name, argument):
    bad = BAD_VALUES[argument]
    with pytest.raises(ValueError, match=rf"^`{argument}(\[[^\]]+\])?` must .*; received {argument}"):
        models.get(name, **dict(MODEL_ARGS[name], **{argument: bad}))


@pytest.mark.parametrize("name", ["msa", "msa_balanced", "msa_seqlevel", "mult", "unimodal"])
def test_heads_that_do_not_divide_the_width_are_named_with_the_width(name):
    message = r"`model_dim` must be a multiple of `num_heads`=4; received model_dim=10"
    with pytest.raises(ValueError, match=message):
        models.get(name, model_dim=10, num_heads=4)


@pytest.mark.parametrize("name", sorted(MODEL_ARGS))
def test_the_data_arguments_default_to_none(name):
    defaults = constructor_arguments(models.model_class(name))
    assert {argument: defaults[argument] for argument in DATA_ARGUMENTS} == dict.fromkeys(DATA_ARGUMENTS)


CONTRADICTIONS = {"seq_len": LENGTH - 1, **{f"{m}_dim": DIMS[m] + 1 for m in MODALITIES}}


@pytest.mark.parametrize("name", sorted(MODEL_ARGS))
@pytest.mark.parametrize("argument", DATA_ARGUMENTS)
def test_inputs_that_contradict_a_data_argument_raise_an_error_that_names_it(batch, name, argument):
    kwargs = dict(MODEL_ARGS[name], **{argument: CONTRADICTIONS[argument]})
    if name == "unimodal" and argument != "seq_len":
        kwargs["modality"] = argument[: -len("_dim")]
    with pytest.raises(ValueError, match=rf"`{argument}`={CONTRADICTIONS[argument]}"):
        models.get(name, **kwargs)(batch)


@pytest.mark.parametrize("name", WITH_POSITION_TABLES)
def test_position_tables_take_the_input_lengths_without_seq_len(batch, name):
    kwargs = {key: value for key, value in MODEL_ARGS[name].items() if key not in DATA_ARGUMENTS}
    model = models.get(name, **kwargs)
    assert model(batch)["regression"].shape == (len(batch["text"]), 1)
    assert {encoder.positions.max_length for encoder in model.encoders.values()} == {LENGTH}
    unknown = {m: (None, None, DIMS[m]) for m in MODALITIES}
    with pytest.raises(ValueError, match=r"`seq_len` must be given for inputs of unknown length"):
        models.get(name, **kwargs).build(unknown)
