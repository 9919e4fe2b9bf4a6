"""Generative models of image/segmentation pairs. Importing this package registers them."""

from msa_tf.models.image.components import encode_segmentation, segmentation_channels, segmentation_ids
from msa_tf.models.image.pix2pix import Pix2Pix
from msa_tf.models.image.vae import ImageMaskVAE

__all__ = ["ImageMaskVAE", "Pix2Pix", "encode_segmentation", "segmentation_channels", "segmentation_ids"]
