"""Tasks: what a kind of problem needs from the runner.

A task owns its targets, losses, compile metrics, evaluation metrics, baseline, report
table and plots, so the runner knows no domain. `get_task(name, source, **arguments)`
makes one; a config names it (`task: {name: sentiment, loss: mse}`) or gets its data
source's `default_task`.

Registered tasks:

- `sentiment`: multimodal sentiment regression (and classification) with the field's
  metrics (`msa_tf.tasks.sentiment.SentimentTask`).
- `language_modeling`: next-token prediction on token sequences, accuracy and perplexity
  against a bigram baseline (`msa_tf.tasks.language_modeling.LanguageModelingTask`).
- `image_synthesis`: images (and segmentations) made from segmentations, L1, PSNR, SSIM,
  IoU and Dice against the mean training image
  (`msa_tf.tasks.image_synthesis.ImageSynthesisTask`).
- `deepfake_detection`: fake-or-real audio-visual clips, AUC, AP, EER and the other
  forensics metrics per clip and per video against the class prior
  (`msa_tf.tasks.deepfake_detection.DeepfakeDetectionTask`).

A new task subclasses `Task` (`msa_tf.tasks.base`) and is registered with
`@register_task(name)` in its own module, imported here.
"""

from msa_tf.tasks.base import Task, format_table, get_task, register_task, task_class, task_names
from msa_tf.tasks.deepfake_detection import DeepfakeDetectionTask
from msa_tf.tasks.image_synthesis import ImageSynthesisTask
from msa_tf.tasks.language_modeling import LanguageModelingTask
from msa_tf.tasks.sentiment import SentimentTask

__all__ = [
    "DeepfakeDetectionTask",
    "ImageSynthesisTask",
    "LanguageModelingTask",
    "SentimentTask",
    "Task",
    "format_table",
    "get_task",
    "register_task",
    "task_class",
    "task_names",
]
