"""Metrics: multimodal sentiment analysis (`sentiment`), language modelling
(`language_modeling`) and deepfake detection (`detection`), each as functions over arrays
and the matching Keras metrics, and image and segmentation quality (`image_quality`)."""

from msa_tf.metrics.detection import (
    DETECTION_METRICS,
    EqualErrorRate,
    FPRAtTPR,
    aggregate_scores,
    detection_metrics,
    equal_error_rate,
    fpr_at_tpr,
)
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
    "DETECTION_METRICS",
    "IGNORE_INDEX",
    "BigramModel",
    "EqualErrorRate",
    "FPRAtTPR",
    "PearsonCorrelation",
    "Perplexity",
    "SentimentAccuracy",
    "SentimentF1",
    "SentimentMAE",
    "TokenAccuracy",
    "aggregate_scores",
    "detection_metrics",
    "equal_error_rate",
    "fpr_at_tpr",
    "image_metrics",
    "language_modeling_metrics",
    "segmentation_metrics",
    "sentiment_classes",
    "sentiment_metric_objects",
    "sentiment_metrics",
    "ssim",
]
