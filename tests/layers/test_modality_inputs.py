import numpy as np
import pytest
from keras import ops

from msa_tf.layers import check_modalities, modality_inputs


def _inputs():
    return {
        "text": np.ones((2, 3, 4), "float32"),
        "audio": np.ones((2, 5, 2), "float32"),
        "vision": np.ones((2, 4, 3), "float32"),
        "audio_mask": np.array([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1]], "int32"),
    }


def test_each_modality_gets_its_mask_and_a_missing_mask_means_all_real():
    parsed = modality_inputs(_inputs())
    assert list(parsed) == ["text", "audio", "vision"]
    audio, audio_mask = parsed["audio"]
    assert audio_mask.dtype == "bool"
    np.testing.assert_array_equal(ops.convert_to_numpy(audio_mask), _inputs()["audio_mask"] == 1)
    np.testing.assert_array_equal(ops.convert_to_numpy(parsed["text"][1]), np.ones((2, 3), bool))


def test_a_subset_of_modalities_is_read_alone():
    parsed = modality_inputs({"audio": np.ones((2, 5, 2))}, modalities=("audio",))
    assert list(parsed) == ["audio"]


@pytest.mark.parametrize(
    "inputs, message",
    [
        ([np.ones((2, 3, 4))],
         r"must be a dict with the keys \('text', 'audio', 'vision'\) and their masks; received list"),
        ({"text": np.ones((2, 3, 4))}, r"The input dict has no 'audio'; received keys \['text'\]"),
        (dict(_inputs(), vision_mask=np.ones((2, 3), bool)),
         r"`vision_mask` must be a boolean \(batch, time\)"),
    ],
)
def test_bad_inputs_raise_value_error(inputs, message):
    with pytest.raises(ValueError, match=message):
        modality_inputs(inputs)


def test_shapes_are_checked_like_tensors():
    check_modalities({"text": (2, 3, 4), "audio": (2, 5, 2), "vision": (2, 4, 3)})
    with pytest.raises(ValueError, match=r"has no 'vision'"):
        check_modalities({"text": (2, 3, 4), "audio": (2, 5, 2)})
