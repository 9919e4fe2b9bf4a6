"""Metrics: multimodal sentiment analysis (`sentiment`), language modelling
(`language_modeling`), each as one function over arrays and the matching Keras metrics,
and image and segmentation quality (`image_quality`)."""

from msa_tf.metrics.image_quality import image_metrics, segmentation_metrics, ssim
from msa_tf.metrics.language_modeling import (
    IGNORE_INDEX,
    BigramModel,
    Perplexity,
    TokenAccuracy,
    language_modeling_metrics,
)
from msa_tf.metrics.sentiment import (
    PearsonCorrelation,
    SentimentAccuracy,
    SentimentF1,
    SentimentMAE,
    sentiment_classes,
    sentiment_metric_objects,
    sentiment_metrics,
)

__all__ = [
    "IGNORE_INDEX",
    "BigramModel",
    "PearsonCorrelation",
    "Perplexity",
    "SentimentAccuracy",
    "SentimentF1",
    "SentimentMAE",
    "TokenAccuracy",
    "image_metrics",
    "language_modeling_metrics",
    "segmentation_metrics",
    "sentiment_classes",
    "sentiment_metric_objects",
    "sentiment_metrics",
    "ssim",
]
