"""Multimodal sentiment analysis metrics: one function and the matching Keras metrics."""

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
    "PearsonCorrelation",
    "SentimentAccuracy",
    "SentimentF1",
    "SentimentMAE",
    "sentiment_classes",
    "sentiment_metric_objects",
    "sentiment_metrics",
]
