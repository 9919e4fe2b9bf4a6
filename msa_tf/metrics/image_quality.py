"""Image and segmentation quality: L1, PSNR, SSIM, IoU and Dice over arrays, per-sample
quality scores of synthetic image/mask pairs, and set-level measures (KID of random
features, MS-SSIM diversity).

Images are float arrays `(count, height, width, channels)` in [-1, 1] (what the
generators make); segmentations int class ids `(count, height, width)`, 0 =
background. The grey level of an image is the mean over its channels.

- `image_metrics(generated, real)`: `l1` (mean absolute difference), `psnr` (dB, over
  the range of 2; the squared error is floored at 1e-10, so identical images score
  106 dB) and `ssim` (`tf.image.ssim` on images moved to [0, 1], an 11x11
  Gaussian window or the image's size if smaller), each the mean over images.
- `segmentation_metrics(predicted, true, num_classes)`: `iou` and `dice` of the object
  classes, pooled over all pixels (a class absent from both counts as a match).
- `closest_ssim(generated, real)`: per generated image, the highest SSIM over the real
  images and the index of that real image.
- `edge_agreement(images, segmentations, tolerance)`: per image, how much its edges sit
  on the mask's boundaries, in [0, 1]; 0.5 = no more than elsewhere.
- `histogram_diversity(images, groups, bins)`: per image, the mean Hellinger distance of
  its grey-level histogram to those of the other images of its group.
- `quality_score(measures, weights)`: per image, the weighted sum of those measures
  (`QUALITY_WEIGHTS` by default; `check_weights` completes and normalises weights,
  `check_threshold` checks a threshold in [0, 1]).
- `kid(generated, real)`: KID (random features), the kernel distance of Binkowski et
  al. over the features of `random_features`, a fixed-seed random network (no
  Inception weights: comparable only between runs with the same seed and size).
- `ms_ssim_diversity(images)`: 1 - the mean MS-SSIM of random pairs (higher = more
  diverse); `ms_ssim_scales(height, width)` says how many scales and which filter fit.

Example:
>>> import numpy as np
>>> real = np.zeros((1, 16, 16, 1), "float32")
>>> {k: round(v, 3) for k, v in image_metrics(real + 0.5, real).items()}
{'l1': 0.5, 'psnr': 12.041, 'ssim': 0.923}
>>> true = np.array([[[0, 1], [1, 1]]])
>>> segmentation_metrics(np.array([[[1, 1], [0, 1]]]), true)
{'iou': 0.5, 'dice': 0.6666666666666666}
>>> masks = np.zeros((1, 16, 16), int)
>>> masks[:, 4:12, 4:12] = 1
>>> edge_agreement(np.where(masks, 1.0, -1.0)[..., None], masks)
array([1.], dtype=float32)
>>> check_weights({"ssim": 1, "iou": 1})
{'ssim': 0.5, 'iou': 0.5, 'edges': 0.0, 'diversity': 0.0}
>>> quality_score({"ssim": [-0.2, 1], "iou": [1, 0.5], "edges": [1, 0.5], "diversity": [1, 0]}).round(3)
array([0.7 , 0.55], dtype=float32)
>>> ms_ssim_scales(16, 16), ms_ssim_scales(64, 48), ms_ssim_scales(176, 176)
((1, 11), (3, 11), (5, 11))
"""

from collections.abc import Mapping

import numpy as np

from msa_tf.validation import check_int, check_number, check_positive_int, did_you_mean

__all__ = [
    "QUALITY_WEIGHTS",
    "check_threshold",
    "check_weights",
    "closest_ssim",
    "edge_agreement",
    "histogram_diversity",
    "image_metrics",
    "kid",
    "ms_ssim_diversity",
    "ms_ssim_scales",
    "quality_score",
    "random_features",
    "segmentation_metrics",
    "ssim",
]

# The range of images in [-1, 1].
IMAGE_RANGE = 2.0
SSIM_WINDOW = 11
# `tf.image.ssim_multiscale`'s default weights of its five scales, finest first.
MS_SSIM_POWERS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
QUALITY_WEIGHTS = {"ssim": 0.3, "iou": 0.3, "edges": 0.2, "diversity": 0.2}
# The filters of the blocks of the random feature network, and images per call.
FEATURE_WIDTHS = (32, 64, 128)
FEATURE_BATCH = 256
KID_SUBSET_SIZE = 100
# Built random feature networks by (channels, seed, size).
_FEATURE_NETWORKS = {}


def _images(name, images, min_count=1):
    """`images` as a float32 array, checked to be `(count, height, width, channels)`."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or len(images) < min_count:
        raise ValueError(f"`{name}` must be at least {min_count} image(s) (count, height, width, "
                         f"channels); received shape {images.shape}")
    return images


def _image_sets(generated, real, min_count=1):
    """`generated` and `real` as float32 images of the same height, width and channels."""
    generated, real = _images("generated", generated, min_count), _images("real", real, min_count)
    if generated.shape[1:] != real.shape[1:]:
        raise ValueError(f"`generated` must have the height, width and channels of `real`; received "
                         f"shapes {generated.shape} and {real.shape}")
    return generated, real


def _unit(images):
    """Images in [-1, 1] as a float32 tensor in [0, 1], what `tf.image`'s SSIMs take."""
    import tensorflow as tf

    return tf.convert_to_tensor((np.asarray(images, np.float32) + 1) / 2)


def _grey(images):
    """The grey level of each pixel, `(count, height, width)`: the mean over channels."""
    return images.mean(axis=-1)


def ssim(first, second):
    """The SSIM of each pair of images `(count, height, width, channels)` in [-1, 1],
    float32 `(count,)` (see the module doc)."""
    import tensorflow as tf

    first, second = _unit(first), _unit(second)
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


def closest_ssim(generated, real, batch_size=512):
    """For each generated image, the highest SSIM over all `real` images (float32
    `(count,)`) and the index of that real image (int `(count,)`; the first on a tie).

    SSIM as in `ssim`; the pairs are scored `batch_size` at a time (at least one
    generated image against every real image). `generated` and `real` must have the
    same height, width and channels.
    """
    generated, real = _image_sets(generated, real)
    batch_size = check_positive_int("batch_size", batch_size)
    rows = max(1, batch_size // len(real))
    scores = []
    for start in range(0, len(generated), rows):
        chunk = generated[start:start + rows]
        pairs = ssim(np.repeat(chunk, len(real), axis=0), np.tile(real, (len(chunk), 1, 1, 1)))
        scores.append(pairs.reshape(len(chunk), len(real)))
    scores = np.concatenate(scores)
    return scores.max(axis=1).astype(np.float32), scores.argmax(axis=1)


def edge_agreement(images, segmentations, tolerance=1):
    """How much each image's edges sit on its mask's boundaries, float32 `(count,)` in [0, 1].

    The edges are the Sobel gradient magnitude of the grey image; the boundary band is
    the pixels whose 3x3 neighbourhood holds more than one class, widened by
    `tolerance` pixels (a square dilation). The score is the mean magnitude on the band
    / (mean on the band + mean off it): 0.5 = edges no more on the boundaries than
    elsewhere, 1 = only on them, 0 = only off them. A mask with no boundary (one class), a
    band that covers the whole image, or a flat image (no gradient) scores 0.5.
    """
    import cv2

    images = _images("images", images)
    segmentations = np.asarray(segmentations)
    if segmentations.shape != images.shape[:3]:
        raise ValueError(f"`segmentations` must be class ids (count, height, width) matching the "
                         f"images {images.shape}; received shape {segmentations.shape}")
    tolerance = check_int("tolerance", tolerance)
    neighbours = np.ones((3, 3), np.uint8)
    widen = np.ones((2 * tolerance + 1, 2 * tolerance + 1), np.uint8)
    scores = []
    for grey, mask in zip(_grey(images), segmentations.astype(np.float32)):
        magnitude = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
        boundary = (cv2.dilate(mask, neighbours) != cv2.erode(mask, neighbours)).astype(np.uint8)
        band = cv2.dilate(boundary, widen).astype(bool)
        if band.any() and not band.all() and magnitude.any():
            on, off = magnitude[band].mean(), magnitude[~band].mean()
            scores.append(on / (on + off))
        else:
            scores.append(0.5)
    return np.array(scores, np.float32)


def histogram_diversity(images, groups, bins=32):
    """For each image, the mean Hellinger distance between its grey-level histogram and
    those of the other images of its group, float32 `(count,)` in [0, 1].

    The histograms have `bins` bins over [-1, 1] (values outside count in the end bins)
    and are normalised; `groups` holds one int per image (e.g. the index of the mask
    that the variation came from). An image alone in its group scores 0.
    """
    images = _images("images", images)
    groups = np.asarray(groups)
    if groups.shape != images.shape[:1]:
        raise ValueError(f"`groups` must hold one group id per image, shape ({len(images)},); received "
                         f"shape {groups.shape}")
    bins = check_positive_int("bins", bins)
    counts = np.stack([np.histogram(np.clip(grey, -1, 1), bins, range=(-1, 1))[0] for grey in _grey(images)])
    roots = np.sqrt(counts / counts.sum(axis=1, keepdims=True))
    # Hellinger distance: sqrt(1 - the Bhattacharyya coefficient), floored at 0 for rounding.
    distances = np.sqrt(np.maximum(1 - roots @ roots.T, 0))
    others = (groups[:, None] == groups[None, :]) & ~np.eye(len(groups), dtype=bool)
    return ((distances * others).sum(axis=1) / np.maximum(others.sum(axis=1), 1)).astype(np.float32)


def check_weights(weights):
    """`weights`, a dict from some of the keys of `QUALITY_WEIGHTS` to numbers >= 0 with a
    positive sum, normalised to sum 1 with every key (those left out weigh 0), else
    raises `ValueError`."""
    if not isinstance(weights, Mapping):
        raise ValueError(f"`weights` must be a dict from {', '.join(map(repr, QUALITY_WEIGHTS))} to "
                         f"numbers >= 0; received weights={weights!r}")
    for key, value in weights.items():
        if key not in QUALITY_WEIGHTS:
            hint = did_you_mean(key, QUALITY_WEIGHTS)
            raise ValueError(f"`weights` has the unknown key {key!r}; accepted keys: "
                             f"{', '.join(map(repr, QUALITY_WEIGHTS))}{hint}")
        check_number(f"weights[{key!r}]", value, low=0)
    total = sum(weights.values())
    if total <= 0:
        raise ValueError(f"`weights` must have a positive sum; received weights={weights!r}")
    return {key: weights.get(key, 0) / total for key in QUALITY_WEIGHTS}


def check_threshold(name, value):
    """Returns `value` as a float if it is a number in [0, 1], else raises `ValueError`."""
    return check_number(name, value, low=0, high=1, accepted="a number in [0, 1]")


def quality_score(measures, weights=None):
    """The weighted sum of per-image `measures`, float32 `(count,)`.

    `weights` go through `check_weights` (`QUALITY_WEIGHTS` by default), so they need
    not sum to 1 nor name every measure. `measures` maps exactly the keys of
    `QUALITY_WEIGHTS` to one score per image: `ssim` (e.g. from `closest_ssim`, clipped
    to [0, 1] first), `iou`, `edges` (`edge_agreement`) and `diversity`
    (`histogram_diversity`).
    """
    weights = check_weights(QUALITY_WEIGHTS if weights is None else weights)
    if not isinstance(measures, Mapping) or set(measures) != set(QUALITY_WEIGHTS):
        received = sorted(measures) if isinstance(measures, Mapping) else measures
        raise ValueError(f"`measures` must be a dict with the keys {', '.join(map(repr, QUALITY_WEIGHTS))}; "
                         f"received {received!r}")
    values = {key: np.asarray(value, np.float32) for key, value in measures.items()}
    shapes = {value.shape for value in values.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise ValueError(f"`measures` must hold one score per image, arrays (count,) of one length; "
                         f"received shapes { {key: value.shape for key, value in values.items()} }")
    values["ssim"] = np.clip(values["ssim"], 0, 1)
    return sum(weight * values[key] for key, weight in weights.items()).astype(np.float32)


def _feature_network(channels, seed, size):
    """The random feature network of `random_features`, built once per (channels, seed, size).

    Its kernels are Glorot-uniform draws of NumPy's generator seeded with `seed`
    (Keras's seeded initializers draw different numbers on each backend), its biases 0.
    """
    key = (channels, seed, size)
    if key not in _FEATURE_NETWORKS:
        import keras

        blocks = []
        for width in FEATURE_WIDTHS:
            blocks += [keras.layers.Conv2D(width, 3, padding="same", activation="relu"),
                       keras.layers.MaxPooling2D(2)]
        network = keras.Sequential([keras.Input((size, size, channels)), *blocks,
                                    keras.layers.GlobalAveragePooling2D()])
        rng = np.random.default_rng(seed)
        for layer in network.layers:
            if isinstance(layer, keras.layers.Conv2D):
                rows, columns, inputs, outputs = layer.kernel.shape
                limit = np.sqrt(6 / (rows * columns * (inputs + outputs)))
                layer.kernel.assign(rng.uniform(-limit, limit, layer.kernel.shape).astype(np.float32))
        _FEATURE_NETWORKS[key] = network
    return _FEATURE_NETWORKS[key]


def random_features(images, seed=0, size=64):
    """Features of a randomly initialised convolutional network, float32 `(count, 128)`.

    The images are resized to `size`x`size` (bilinear) and go through three blocks of
    3x3 convolution (32, 64, 128 filters), ReLU and 2x2 max pooling, then a global
    average pooling. The network is a pure function of `seed` (the same in every process
    and on every Keras backend) and is never trained: its features only compare sets of
    images with each other under the same `seed` and `size`.
    """
    import keras
    import tensorflow as tf

    images = _images("images", images)
    seed, size = check_int("seed", seed), check_int("size", size, low=8)
    network = _feature_network(images.shape[-1], seed, size)
    features = []
    for start in range(0, len(images), FEATURE_BATCH):
        resized = tf.image.resize(images[start:start + FEATURE_BATCH], (size, size)).numpy()
        features.append(keras.ops.convert_to_numpy(network(resized)))
    return np.concatenate(features).astype(np.float32)


def kid(generated, real, seed=0, subsets=10, subset_size=None, size=64):
    """KID (random features): `{"kid", "kid_std"}`, the kernel distance of Binkowski et al.
    (2018) between `generated` and `real` over `random_features(..., seed, size)`.

    NOT the published Kernel Inception Distance: no Inception weights are available
    offline, so the features come from a fixed-seed random network. Values compare only
    between runs with the same `seed` and `size`, never with Inception-based KID.

    As in the paper (and clean-fid, torchmetrics): the unbiased MMD^2 with the kernel
    k(x, y) = (x.y / d + 1)^3 (d features), on `subsets` random subsets of
    min(len(generated), len(real), `subset_size` or 100) images of each set, drawn
    without replacement with `seed`; `kid` is their mean and `kid_std` their standard
    deviation. About 0 (it can be slightly negative) for two sets of one distribution.
    Both sets need at least 2 images of the same height, width and channels.
    """
    generated, real = _image_sets(generated, real, min_count=2)
    subsets = check_positive_int("subsets", subsets)
    if subset_size is not None:
        check_int("subset_size", subset_size, low=2)
    count = min(len(generated), len(real), subset_size or KID_SUBSET_SIZE)
    first, second = (random_features(images, seed, size).astype(np.float64) for images in (generated, real))
    rng = np.random.default_rng(seed)

    def kernel(x, y):
        return (x @ y.T / first.shape[1] + 1) ** 3

    distances = []
    for _ in range(subsets):
        x = first[rng.choice(len(first), count, replace=False)]
        y = second[rng.choice(len(second), count, replace=False)]
        within = kernel(x, x).sum() - np.trace(kernel(x, x)) + kernel(y, y).sum() - np.trace(kernel(y, y))
        distances.append(within / (count * (count - 1)) - 2 * kernel(x, y).mean())
    return {"kid": float(np.mean(distances)), "kid_std": float(np.std(distances))}


def ms_ssim_scales(height, width):
    """`(scales, filter_size)` of `ms_ssim_diversity` for images of this size.

    `tf.image.ssim_multiscale` needs the shorter side >= (filter_size - 1) *
    2**(scales - 1) + 1: with the 11-pixel filter, 161 pixels for all five scales, 81 for
    four, 41 for three, 21 for two, 11 for one. Images use as many scales as fit; below
    11 pixels, one scale with a filter the size of the shorter side.
    """
    side = min(check_positive_int("height", height), check_positive_int("width", width))
    if side < SSIM_WINDOW:
        return 1, side
    fits = [scales for scales in range(1, len(MS_SSIM_POWERS) + 1)
            if side >= (SSIM_WINDOW - 1) * 2 ** (scales - 1) + 1]
    return fits[-1], SSIM_WINDOW


def ms_ssim_diversity(images, max_pairs=64, seed=0):
    """1 - the mean MS-SSIM over up to `max_pairs` random pairs of distinct images: the
    diversity of a set (0 = identical images, higher = more diverse).

    `tf.image.ssim_multiscale` on images moved to [0, 1], with the scales and filter of
    `ms_ssim_scales`: on five scales, tf's default MS-SSIM; on fewer, the first of its
    default power factors, renormalised to sum 1 (one scale: SSIM).
    The pairs are drawn with `seed` without repeats; all pairs if there are no more
    than `max_pairs`. Needs at least 2 images.
    """
    import tensorflow as tf

    images = _images("images", images, min_count=2)
    max_pairs, seed = check_positive_int("max_pairs", max_pairs), check_int("seed", seed)
    total = len(images) * (len(images) - 1) // 2
    pairs = np.random.default_rng(seed).choice(total, min(max_pairs, total), replace=False)
    # Pair k is (first, second) in the order (1, 0), (2, 0), (2, 1), (3, 0), ...
    first = ((1 + np.sqrt(1 + 8 * pairs)) // 2).astype(np.int64)
    second = pairs - first * (first - 1) // 2
    scales, filter_size = ms_ssim_scales(*images.shape[1:3])
    powers = MS_SSIM_POWERS[:scales]
    if scales < len(MS_SSIM_POWERS):
        powers = tuple(power / sum(powers) for power in powers)
    similarity = tf.image.ssim_multiscale(_unit(images[first]), _unit(images[second]), max_val=1.0,
                                          power_factors=powers, filter_size=filter_size)
    return float(1 - np.mean(similarity))
