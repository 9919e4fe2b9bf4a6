"""Do filtered synthetic pairs help a segmenter trained on five real ones? (issue 13's validity)

For each seed, on the procedural `shapes` data (`--scene`, `--image-size`):

1. the real training set is `--real-pairs` pairs (5) of the train split (the seed picks
   the generator, so each seed has other pairs); the held-out test set is
   `--test-pairs` pairs of the test split; a judge segmenter is trained on
   `--judge-pairs` other real pairs (the valid split), which nothing else sees;
2. a Pix2Pix is trained on the real pairs (flips and crops, `--pix2pix-steps`);
3. each real mask gives `--variations` perturbed masks (`perturb_masks`) that the
   generator paints; the pairs are scored as `msa-tf synthesize` scores them (the
   reference segmenter trained on the real pairs only) and kept at a threshold: the
   median score (`--min-quality` sets a fixed one);
4. the same small U-Net segmenter is trained for `--steps` steps (the same compute in
   every arm) on:
   - `real`: the real pairs;
   - `real+augment`: the real pairs with classical augmentation (flips, crops,
     brightness and contrast jitter);
   - `real+synthetic`: the real pairs and the kept synthetic pairs, augmented alike;
   - `real+unfiltered`: the real pairs and every synthetic pair, augmented alike;
   in the last two the real pairs are repeated so that synthetic pairs are
   `--synthetic-share` of the training set (a quarter: a supplement to the real pairs,
   not a replacement), and its Dice on the test set is measured; the judge's Dice
   (trained on many real pairs) shows how far more real data would go.

It prints each arm's Dice per seed and the mean over seeds, and the judge's IoU of the
kept and of the rejected synthetic pairs (does the filter keep the better ones?).
`validity(...)` returns the figures; tests/test_image_validity.py asserts them at a
small size.

    python benchmarks/bench_image_validity.py
    python benchmarks/bench_image_validity.py --image-size 32 --seeds 2
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from generators.shapes import ShapesGenerator  # noqa: E402
from msa_tf.data.image_augment import pair_batches  # noqa: E402
from msa_tf.data.mask_perturbation import perturb_masks  # noqa: E402
from msa_tf.metrics.image_quality import segmentation_metrics  # noqa: E402
from msa_tf.models.image.pix2pix import Pix2Pix  # noqa: E402
from msa_tf.models.image.segmenter import segment, train_segmenter  # noqa: E402
from msa_tf.synthesis import score_pairs  # noqa: E402

ARMS = ("real", "real+augment", "real+synthetic", "real+unfiltered", "judge")


def _pairs(generator, split, count):
    pairs = generator.generate(split, 0, count)
    return pairs["image"].numpy(), pairs["segmentation"].numpy()


def train_pix2pix(images, masks, steps, seed, base_filters=16, batch_size=4):
    """A Pix2Pix trained on the pairs, flipped and cropped, for `steps` steps."""
    keras.utils.set_random_seed(seed)
    size = images.shape[1]
    model = Pix2Pix(image_size=size, channels=images.shape[-1], base_filters=base_filters,
                    depth=int(np.log2(size)), num_downsamples=2, dropout=0.0)
    model.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), {"image": "mae"})
    batches = pair_batches(images, masks, batch_size, steps, augment=True, seed=seed, brightness=0.0,
                           contrast=0.0).map(lambda image, mask: ({"segmentation": mask}, {"image": image}))
    model.fit(batches, epochs=1, shuffle=False, verbose=0)
    return model


def synthetic_pairs(model, masks, variations, seed):
    """`variations` perturbed masks per mask, painted by `model`."""
    varied = np.concatenate([perturb_masks(mask, variations, seed=seed * 1000 + index)
                             for index, mask in enumerate(masks)])
    images = np.asarray(model.predict({"segmentation": varied}, batch_size=32, verbose=0)["image"])
    return images, varied, np.repeat(np.arange(len(masks)), variations)


def with_real_share(real, images, masks, synthetic_share):
    """The real pairs, repeated, and the synthetic ones, synthetic being about
    `synthetic_share` of them."""
    repeats = max(1, round(len(images) * (1 - synthetic_share) / synthetic_share / len(real[0])))
    return (np.concatenate([np.repeat(real[0], repeats, axis=0), images]),
            np.concatenate([np.repeat(real[1], repeats, axis=0), masks]))


def validity(scene="lesions", image_size=32, seeds=(0, 1, 2, 3, 4), real_pairs=5, test_pairs=128,
             judge_pairs=128, variations=16, pix2pix_steps=800, steps=300, min_quality=None,
             synthetic_share=0.25, reference_steps=300, arms=ARMS):
    """`{"dice": {arm: [per seed]}, "kept": [...], "judge_iou": {"kept": [...], "rejected": [...]}}`
    of the `arms` (module doc; the judge's figures come with any)."""
    figures = {"dice": {arm: [] for arm in arms}, "kept": [],
               "judge_iou": {"kept": [], "rejected": []}}
    for seed in seeds:
        generator = ShapesGenerator(scene=scene, image_size=image_size,
                                    num_samples=max(real_pairs, test_pairs, judge_pairs), seed=seed)
        real = _pairs(generator, "train", real_pairs)
        test = _pairs(generator, "test", test_pairs)
        keras.utils.set_random_seed(seed)
        judge_set = _pairs(generator, "valid", judge_pairs)
        judge = train_segmenter(*judge_set, steps=steps, augment=True, seed=seed)
        keras.utils.set_random_seed(seed)
        reference = train_segmenter(*real, steps=reference_steps, augment=True, seed=seed)

        pix2pix = train_pix2pix(*real, pix2pix_steps, seed)
        images, masks, origins = synthetic_pairs(pix2pix, real[1], variations, seed)
        _, scores = score_pairs(images, masks, origins, real[0], reference, 1)
        kept = scores >= (np.median(scores) if min_quality is None else min_quality)
        figures["kept"].append(int(kept.sum()))
        found = segment(judge, images)
        for name, chosen in (("kept", kept), ("rejected", ~kept)):
            iou = segmentation_metrics(found[chosen], masks[chosen])["iou"] if chosen.any() else np.nan
            figures["judge_iou"][name].append(iou)

        training_sets = {
            "real": (*real, False),
            "real+augment": (*real, True),
            "real+synthetic": (*with_real_share(real, images[kept], masks[kept], synthetic_share), True),
            "real+unfiltered": (*with_real_share(real, images, masks, synthetic_share), True),
        }
        for arm, (arm_images, arm_masks, augment) in training_sets.items():
            if arm not in arms:
                continue
            keras.utils.set_random_seed(seed)
            segmenter = train_segmenter(arm_images, arm_masks, steps=steps, augment=augment, seed=seed)
            figures["dice"][arm].append(segmentation_metrics(segment(segmenter, test[0]), test[1])["dice"])
        if "judge" in arms:
            figures["dice"]["judge"].append(segmentation_metrics(segment(judge, test[0]), test[1])["dice"])
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", default="lesions")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=5, help="seeds averaged (0 .. seeds - 1)")
    parser.add_argument("--real-pairs", type=int, default=5)
    parser.add_argument("--test-pairs", type=int, default=128)
    parser.add_argument("--judge-pairs", type=int, default=128)
    parser.add_argument("--variations", type=int, default=16)
    parser.add_argument("--pix2pix-steps", type=int, default=800)
    parser.add_argument("--steps", type=int, default=300, help="segmenter training steps per arm")
    parser.add_argument("--min-quality", type=float, help="the threshold (default: the median score)")
    parser.add_argument("--synthetic-share", type=float, default=0.25)
    args = parser.parse_args()
    seeds = tuple(range(args.seeds))
    figures = validity(args.scene, args.image_size, seeds, args.real_pairs, args.test_pairs,
                       args.judge_pairs, args.variations, args.pix2pix_steps, args.steps,
                       args.min_quality, args.synthetic_share)
    print(f"{args.scene} {args.image_size}x{args.image_size}, {args.real_pairs} real pairs, "
          f"{args.variations} variations per mask, synthetic share {args.synthetic_share}, "
          f"{len(seeds)} seeds")
    print(f"{'':<22}" + "".join(f"{f'seed {seed}':>9}" for seed in seeds) + f"{'mean':>9}")
    for arm, values in figures["dice"].items():
        print(_row(f"{arm} Dice", values))
    print(_row("kept pairs", figures["kept"], "9.1f") + f"  of {args.real_pairs * args.variations}")
    for name, values in figures["judge_iou"].items():
        print(_row(f"judge IoU {name}", values))


def _row(label, values, form="9.4f"):
    return f"{label:<22}" + "".join(f"{value:{form}}" for value in values) + f"{np.nanmean(values):{form}}"


if __name__ == "__main__":
    main()
