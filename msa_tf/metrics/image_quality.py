"""Image and segmentation quality: L1, PSNR, SSIM, IoU and Dice over arrays.

Images are float arrays `(count, height, width, channels)` in [-1, 1] (what the
generators make); segmentations int class ids `(count, height, width)`, 0 =
background.

- `image_metrics(generated, real)`: `l1` (mean absolute difference), `psnr` (dB, over
  the range of 2; the squared error is floored at 1e-10, so identical images score
  106 dB) and `ssim` (`tf.image.ssim` on images moved to [0, 1], an 11x11
  Gaussian window or the image's size if smaller), each the mean over images.
- `segmentation_metrics(predicted, true, num_classes)`: `iou` and `dice` of the object
  classes, pooled over all pixels (a class absent from both counts as a match).

Example:
>>> import numpy as np
>>> real = np.zeros((1, 16, 16, 1), "float32")
>>> {k: round(v, 3) for k, v in image_metrics(real + 0.5, real).items()}
{'l1': 0.5, 'psnr': 12.041, 'ssim': 0.923}
>>> true = np.array([[[0, 1], [1, 1]]])
>>> segmentation_metrics(np.array([[[1, 1], [0, 1]]]), true)
{'iou': 0.5, 'dice': 0.6666666666666666}
"""

import numpy as np

__all__ = ["image_metrics", "segmentation_metrics", "ssim"]

# The range of images in [-1, 1].
IMAGE_RANGE = 2.0
SSIM_WINDOW = 11


def ssim(first, second):
    """The SSIM of each pair of images `(count, height, width, channels)` in [-1, 1],
    float32 `(count,)` (see the module doc)."""
    import tensorflow as tf

    first, second = (tf.convert_to_tensor((np.asarray(a, np.float32) + 1) / 2) for a in (first, second))
    window = min(SSIM_WINDOW, first.shape[1], first.shape[2])
    return tf.image.ssim(first, second, max_val=1.0, filter_size=window).numpy()


def image_metrics(generated, real):
    """`{"l1", "psnr", "ssim"}` of `generated` against `real` (module doc)."""
    generated, real = np.asarray(generated, np.float32), np.asarray(real, np.float32)
    if generated.shape != real.shape or generated.ndim != 4:
        raise ValueError(f"`generated` must be images (count, height, width, channels) shaped as "
                         f"`real`; received shapes {generated.shape} and {real.shape}")
    squared = np.mean((generated - real) ** 2, axis=(1, 2, 3))
    psnr = 10 * np.log10(IMAGE_RANGE**2 / np.maximum(squared, 1e-10))
    return {"l1": float(np.mean(np.abs(generated - real))), "psnr": float(np.mean(psnr)),
            "ssim": float(np.mean(ssim(generated, real)))}


def segmentation_metrics(predicted, true, num_classes=1):
    """`{"iou", "dice"}` of the object classes 1 .. `num_classes` (module doc)."""
    predicted, true = np.asarray(predicted), np.asarray(true)
    if predicted.shape != true.shape:
        raise ValueError(f"`predicted` must have the shape of `true`; received {predicted.shape} and "
                         f"{true.shape}")
    ious, dices = [], []
    for label in range(1, num_classes + 1):
        mine, theirs = predicted == label, true == label
        overlap, union = np.sum(mine & theirs), np.sum(mine | theirs)
        total = np.sum(mine) + np.sum(theirs)
        ious.append(overlap / union if union else 1.0)
        dices.append(2 * overlap / total if total else 1.0)
    return {"iou": float(np.mean(ious)), "dice": float(np.mean(dices))}
