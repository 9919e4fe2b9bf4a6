"""New image/mask pairs from a trained run, scored and filtered (`msa-tf synthesize`).

Methods (the run's model decides; `vae_run` adds a second run):

- `pix2pix` (a Pix2Pix run): each mask of `masks_dir` gives `variations` new masks
  (`msa_tf.data.mask_perturbation.perturb_masks`: elastic deformation, morphology and
  boundary noise), which the generator turns into images;
- `vae` (a VAE run): each real training pair of the run gives `variations` pairs
  decoded around its posterior (`ImageMaskVAE.variations`), image and mask together;
- `hybrid` (a Pix2Pix run and `vae_run`): both sets.

Every generated pair is scored against the run's real training pairs (at most
`REAL_LIMIT`), each measure in [0, 1] (`msa_tf.metrics.image_quality`):

- `ssim`: SSIM to the closest real image (`closest_ssim`, negative values as 0);
- `iou` (and `dice`): between the pair's mask and the mask that a reference segmenter
  (`msa_tf.models.image.segmenter`, trained here on the real pairs, with classical
  augmentation, for `reference_steps` steps) finds in the generated image;
- `edges`: how much the image's edges sit on the mask's boundaries (`edge_agreement`);
- `diversity`: the histogram distance to the other variations of the same origin.

`score` = the weighted sum (`QUALITY_WEIGHTS`: 0.3 ssim + 0.3 iou + 0.2 edges + 0.2
diversity by default); a pair is kept when `score >= min_quality`. The set of kept
pairs gets KID against the real images (of a random fixed-seed feature network, see
`kid`) and MS-SSIM diversity.

`out` receives, all at once (everything is made in a hidden folder beside it, moved in
place at the end, and removed on failure, so an interrupted run leaves nothing
half-written):

- `images/<origin>_<k>.png` and `masks/<origin>_<k>.png`: the kept pairs, a folder pair
  that the `image_masks` source reads (masks 0/255 for binary; class `c` of `K` as
  `c * (255 // K)`, the `mask_values` in `summary.json`);
- `scores.csv`: every generated pair with its measures, `score` and `kept`;
- `summary.json`: the method, the counts, the threshold and weights, `kid`, `kid_std`
  and `ms_ssim_diversity` of the kept pairs;
- `samples.png` (origin mask, closest real image, variations) and `scores.png` (the
  score distribution with the threshold).
"""

import csv
import dataclasses
import json
import os
import shutil
import tempfile

import cv2
import numpy as np
from tqdm import tqdm

from msa_tf.data.image_masks import read_masks
from msa_tf.data.mask_perturbation import MASK_PERTURBATIONS, perturb_masks
from msa_tf.metrics import image_quality
from msa_tf.models.image.pix2pix import Pix2Pix
from msa_tf.models.image.segmenter import segment
from msa_tf.models.image.vae import ImageMaskVAE
from msa_tf.tasks.image_synthesis import REAL_LIMIT, reference_segmenter
from msa_tf.training import plots
from msa_tf.validation import check_positive_int, did_you_mean

__all__ = ["METHODS", "Synthesis", "score_pairs", "synthesize"]

METHODS = ("pix2pix", "vae", "hybrid")
# Origins shown in `samples.png`, and variations per origin.
PLOTTED_ORIGINS, PLOTTED_VARIATIONS = 6, 4


@dataclasses.dataclass
class Synthesis:
    """Generated pairs and their scores.

    Attributes:
        images: float32 `(count, height, width, channels)` in [-1, 1].
        masks: int32 `(count, height, width)` class ids.
        origins: the name of the mask or real pair each pair varies, `(count,)`.
        names: a file stem per pair, `<origin>_<k>`.
        measures: `{"ssim", "iou", "dice", "edges", "diversity"}` arrays `(count,)`, and
            `closest_real` (the index of the closest real image).
        scores: float32 `(count,)`, the weighted sum of the measures.
        kept: bool `(count,)`, `scores >= min_quality`.
    """

    images: np.ndarray
    masks: np.ndarray
    origins: list
    names: list
    measures: dict = None
    scores: np.ndarray = None
    kept: np.ndarray = None


def score_pairs(images, masks, origins, real_images, reference, num_classes, weights=None):
    """`(measures, scores)` of generated pairs against real images and a reference
    segmenter (module doc); `weights` as `image_quality.check_weights` takes them."""
    groups = np.unique(np.asarray(origins), return_inverse=True)[1]
    ssim, closest = image_quality.closest_ssim(images, real_images)
    found = segment(reference, images)
    overlaps = [image_quality.segmentation_metrics(f[None], m[None], num_classes)
                for f, m in zip(found, masks)]
    measures = {
        "ssim": np.asarray(ssim, np.float32),
        "iou": np.array([overlap["iou"] for overlap in overlaps], np.float32),
        "dice": np.array([overlap["dice"] for overlap in overlaps], np.float32),
        "edges": image_quality.edge_agreement(images, masks),
        "diversity": image_quality.histogram_diversity(images, groups),
    }
    scored = {name: measures[name] for name in image_quality.QUALITY_WEIGHTS}
    return {**measures, "closest_real": np.asarray(closest)}, image_quality.quality_score(scored, weights)


def synthesize(run_dir, out, *, masks_dir=None, variations=4, min_quality=0.5, vae_run=None,
               weights=None, perturbation=None, reference_steps=300, seed=0, overwrite=False,
               progress=True):
    """Generates, scores and filters pairs from the run in `run_dir`, writes them to `out`
    (module doc) and returns the `Synthesis`.

    Args:
        run_dir: a finished `msa-tf train` run of `pix2pix` or `vae`.
        out: the output folder; it must not exist or be empty, unless `overwrite`
            (the old content is replaced only once the new one is complete).
        masks_dir: masks to vary (Pix2Pix and hybrid), read at the run's image size
            with the run's `mask_values` where its data had them.
        variations: pairs per mask (Pix2Pix) or per real training pair (VAE).
        min_quality: the score, in [0, 1], that a kept pair reaches.
        vae_run: a VAE run that adds its pairs to a Pix2Pix run's (hybrid): variations
            of the Pix2Pix run's real training pairs.
        weights: `{measure: weight}` (normalised), default `QUALITY_WEIGHTS`.
        perturbation: `{"elastic", "morphology", "noise"}` strengths in [0, 1] for
            `perturb_masks` (its defaults for those left out).
        reference_steps: training steps of the reference segmenter.
        seed: of the perturbations, the VAE's draws and the reference's data order.
        progress: show a progress bar.

    Raises `ValueError` for a bad argument, run or mask folder, before anything is written.
    """
    from msa_tf.training import runner

    variations = check_positive_int("variations", variations)
    min_quality = image_quality.check_threshold("min_quality", min_quality)
    weights = image_quality.check_weights(weights or image_quality.QUALITY_WEIGHTS)
    reference_steps = check_positive_int("reference_steps", reference_steps)
    perturbation = _checked_perturbation(perturbation or {})
    _check_out(out, overwrite)
    experiment, model = runner.load_experiment(run_dir)
    runs = {_method_of(run_dir, model): model}
    if vae_run is not None:
        runs["vae"] = _checked_vae(vae_run, runner.load_experiment(vae_run), experiment)
    method = "hybrid" if len(runs) == 2 else next(iter(runs))
    if method == "vae" and masks_dir is not None:
        raise ValueError(f"`masks_dir` is for Pix2Pix runs; {run_dir!r} is a VAE run, which varies its "
                         f"real training pairs; received masks_dir={masks_dir!r}")
    if method != "vae" and masks_dir is None:
        raise ValueError(f"`masks_dir` must name a folder of masks for the Pix2Pix run {run_dir!r}")
    source = experiment.source
    masks = None
    if masks_dir is not None:
        values = experiment.config.data.arguments.get("mask_values")
        masks = read_masks(masks_dir, source.image_size, mask_values=values)
    real_images, real_masks, real_names = source.pairs("train", limit=REAL_LIMIT)

    parts = []
    with tqdm(total=_work(masks, real_names, runs), desc="synthesize", unit="pair",
              disable=not progress) as bar:
        if "pix2pix" in runs:
            parts.append(_pix2pix_pairs(runs["pix2pix"], *masks, variations, seed, perturbation, bar))
        if "vae" in runs:
            parts.append(_vae_pairs(runs["vae"], real_images, real_masks, real_names, variations,
                                    seed, bar))
        synthesis = Synthesis(*_joined(parts))
        bar.set_postfix_str("training the reference segmenter")
        reference = reference_segmenter(source, reference_steps, seed)
        bar.set_postfix_str("scoring")
        synthesis.measures, synthesis.scores = score_pairs(
            synthesis.images, synthesis.masks, synthesis.origins, real_images, reference,
            source.num_segmentation_classes, weights)
    synthesis.kept = synthesis.scores >= min_quality
    summary = {"method": method, "run_dir": os.fspath(run_dir), "vae_run": vae_run,
               "variations": variations, "generated": len(synthesis.names),
               "kept": int(synthesis.kept.sum()), "min_quality": min_quality, "weights": weights,
               "mask_values": _mask_values(source.num_segmentation_classes),
               **_set_measures(synthesis, real_images, seed)}
    _write_atomically(out, overwrite, lambda folder: _write(folder, synthesis, summary, real_images))
    return synthesis


def _method_of(run_dir, model):
    if isinstance(model, Pix2Pix):
        return "pix2pix"
    if isinstance(model, ImageMaskVAE):
        return "vae"
    raise ValueError(f"`run_dir` must be a run of model pix2pix or vae; {run_dir!r} holds a "
                     f"{type(model).__name__}")


def _checked_vae(vae_run, loaded, experiment):
    _, vae = loaded
    if not isinstance(vae, ImageMaskVAE):
        raise ValueError(f"`vae_run` must be a run of model vae; {vae_run!r} holds a {type(vae).__name__}")
    if tuple(vae.image_size) != tuple(experiment.source.image_size):
        raise ValueError(f"`vae_run` must have the image size of the Pix2Pix run, "
                         f"{tuple(experiment.source.image_size)}; {vae_run!r} has {tuple(vae.image_size)}")
    return vae


def _checked_perturbation(perturbation):
    for key in perturbation:
        if key not in MASK_PERTURBATIONS:
            hint = did_you_mean(key, MASK_PERTURBATIONS)
            raise ValueError(f"unknown mask perturbation {key!r} in `perturbation`{hint}; accepted: "
                             f"{', '.join(MASK_PERTURBATIONS)}")
    perturb_masks(np.zeros((2, 2), np.int32), 1, **perturbation)  # checks the strengths
    return perturbation


def _check_out(out, overwrite):
    if os.path.exists(out) and (not os.path.isdir(out) or (os.listdir(out) and not overwrite)):
        raise ValueError(f"`out` must be a new or empty folder (or pass overwrite=True to replace it); "
                         f"received out={os.fspath(out)!r}, which holds files")


def _work(masks, real_names, runs):
    count = 0
    if "pix2pix" in runs:
        count += len(masks[1])
    if "vae" in runs:
        count += len(real_names)
    return count


def _pix2pix_pairs(model, masks, stems, variations, seed, perturbation, bar):
    """`variations` perturbed masks per mask, painted by the Pix2Pix generator."""
    images, new_masks, origins = [], [], []
    for index, (mask, stem) in enumerate(zip(masks, stems)):
        varied = perturb_masks(mask, variations, seed=seed * 100_003 + index, **perturbation)
        images.append(np.asarray(model.predict_on_batch({"segmentation": varied})["image"], np.float32))
        new_masks.append(varied)
        origins += [stem] * variations
        bar.update()
    return images, new_masks, origins


def _vae_pairs(model, real_images, real_masks, real_names, variations, seed, bar):
    """`variations` pairs decoded around the posterior of each real pair."""
    images, masks, origins = [], [], []
    for index, name in enumerate(real_names):
        pairs = model.variations({"image": real_images[index:index + 1],
                                  "segmentation": real_masks[index:index + 1]},
                                 variations, seed=seed * 100_003 + index)
        images.append(pairs["image"])
        masks.append(pairs["segmentation"])
        origins += [name] * variations
        bar.update()
    return images, masks, origins


def _joined(parts):
    """`(images, masks, origins, names)` of the parts' pairs, named `<origin>_<k>`."""
    images = np.concatenate([image for part in parts for image in part[0]])
    masks = np.concatenate([mask for part in parts for mask in part[1]]).astype(np.int32)
    origins = [origin for part in parts for origin in part[2]]
    seen = {}
    names = []
    for origin in origins:
        seen[origin] = seen.get(origin, -1) + 1
        names.append(f"{origin}_{seen[origin]:03d}")
    return images, masks, origins, names


def _mask_values(num_classes):
    """The pixel value of each class in the written masks, background first."""
    step = 255 // num_classes
    return [label * step for label in range(num_classes + 1)]


def _set_measures(synthesis, real_images, seed):
    """KID and MS-SSIM diversity of the kept pairs (NaN when fewer than two are kept)."""
    kept = synthesis.images[synthesis.kept]
    if len(kept) < 2:
        return {"kid": float("nan"), "kid_std": float("nan"), "ms_ssim_diversity": float("nan")}
    kid = image_quality.kid(kept, real_images, seed=seed)
    return {"kid": kid["kid"], "kid_std": kid["kid_std"],
            "ms_ssim_diversity": image_quality.ms_ssim_diversity(kept, seed=seed)}


def _write_atomically(out, overwrite, write):
    """Runs `write(folder)` on a hidden folder beside `out`, then moves it to `out`."""
    out = os.path.abspath(out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.", dir=parent)
    try:
        write(staging)
        if os.path.exists(out):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.old.", dir=parent)
            os.replace(out, os.path.join(old, "content"))
            os.replace(staging, out)
            shutil.rmtree(old)
        else:
            os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write(folder, synthesis, summary, real_images):
    values = np.asarray(summary["mask_values"], np.uint8)
    for name in ("images", "masks"):
        os.makedirs(os.path.join(folder, name))
    for index in np.flatnonzero(synthesis.kept):
        name = synthesis.names[index]
        _write_png(os.path.join(folder, "images", f"{name}.png"), _to_uint8(synthesis.images[index]))
        _write_png(os.path.join(folder, "masks", f"{name}.png"), values[synthesis.masks[index]])
    _write_scores(os.path.join(folder, "scores.csv"), synthesis)
    with open(os.path.join(folder, "summary.json"), "w") as handle:
        json.dump(summary, handle, indent=2)
    _plot_samples(os.path.join(folder, "samples.png"), synthesis, real_images)
    plots.plot_score_distribution(synthesis.scores, summary["min_quality"],
                                  os.path.join(folder, "scores.png"),
                                  title=f"Quality of {summary['generated']} {summary['method']} pairs")


def _to_uint8(image):
    image = np.round((np.asarray(image, np.float32) + 1) * 127.5).clip(0, 255).astype(np.uint8)
    return image[..., ::-1] if image.shape[-1] == 3 else image  # OpenCV writes BGR


def _write_png(path, array):
    if not cv2.imwrite(path, array):
        raise OSError(f"could not write {path}")


def _write_scores(path, synthesis):
    columns = ["name", "origin", "ssim", "closest_real", "iou", "dice", "edges", "diversity",
               "score", "kept"]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for index, name in enumerate(synthesis.names):
            measures = [synthesis.measures[key][index] for key in columns[2:8]]
            writer.writerow([name, synthesis.origins[index],
                             *[f"{value:.6f}" if key != "closest_real" else int(value)
                               for key, value in zip(columns[2:8], measures)],
                             f"{synthesis.scores[index]:.6f}", int(synthesis.kept[index])])


def _plot_samples(path, synthesis, real_images):
    """The first origins' mask, closest real image and variations."""
    origins = list(dict.fromkeys(synthesis.origins))[:PLOTTED_ORIGINS]
    rows = [np.flatnonzero(np.asarray(synthesis.origins) == origin)[:PLOTTED_VARIATIONS]
            for origin in origins]
    shown = min(len(row) for row in rows)
    first = [row[0] for row in rows]
    columns = {"mask": synthesis.masks[first],
               "closest real": real_images[synthesis.measures["closest_real"][first]]}
    for k in range(shown):
        columns[f"variation {k + 1}"] = synthesis.images[[row[k] for row in rows]]
    plots.plot_image_grid(columns, path, title="Synthetic pairs: mask, closest real image, variations")
