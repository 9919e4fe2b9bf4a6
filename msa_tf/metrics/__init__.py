"""Metrics: multimodal sentiment analysis (`sentiment`) and language modelling
(`language_modeling`), each as one function over arrays and the matching Keras metrics."""

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
    "language_modeling_metrics",
    "sentiment_classes",
    "sentiment_metric_objects",
    "sentiment_metrics",
]
