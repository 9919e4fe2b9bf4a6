"""Generative models of image/segmentation pairs. Importing this package registers them."""

from msa_tf.models.image.vae import ImageMaskVAE, encode_segmentation, segmentation_channels

__all__ = ["ImageMaskVAE", "encode_segmentation", "segmentation_channels"]
