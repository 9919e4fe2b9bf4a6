"""What the image/segmentation models share: how a segmentation enters and leaves them."""

from keras import ops

from msa_tf.layers.unet import NORMS
from msa_tf.validation import check_divisible, check_positive_int

__all__ = ["NORMS", "check_image_size", "encode_segmentation", "segmentation_channels",
           "segmentation_ids"]


def check_image_size(image_size, depth_name, depth):
    """`image_size` (an int or `(height, width)`) as a `(height, width)` tuple of multiples
    of `2**depth`; `ValueError` naming `image_size` otherwise."""
    sizes = list(image_size) if isinstance(image_size, (list, tuple)) else [image_size] * 2
    if len(sizes) != 2:
        raise ValueError(f"`image_size` must be an int or (height, width); received "
                         f"image_size={image_size!r}")
    return tuple(check_divisible("image_size", check_positive_int("image_size", size),
                                 f"2**{depth_name}", 2**depth) for size in sizes)


def segmentation_channels(num_classes):
    """The channels that code a segmentation of `num_classes` object classes: one for
    binary masks (a sigmoid logit), one per class and background otherwise (softmax)."""
    return 1 if num_classes == 1 else num_classes + 1


def encode_segmentation(segmentation, num_classes, dtype):
    """Class ids `(batch, height, width)` as `segmentation_channels` channels in {-1, 1}."""
    ids = ops.cast(segmentation, "int32")
    coded = ids[..., None] > 0 if num_classes == 1 else ops.one_hot(ids, num_classes + 1) > 0
    return ops.cast(ops.where(coded, 1.0, -1.0), dtype)


def segmentation_ids(logits):
    """Class ids `(..., height, width)` of segmentation logits (one channel: binary), as
    a backend tensor of int32."""
    if logits.shape[-1] == 1:
        return ops.cast(logits[..., 0] > 0, "int32")
    return ops.cast(ops.argmax(logits, axis=-1), "int32")
