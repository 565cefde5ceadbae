"""Engine: ids -> buckets -> batches -> runtime -> trimmed audio."""

from .buckets import BucketConfig, bucket_size
from .engine import Engine, Utterance

__all__ = ["BucketConfig", "Engine", "Utterance", "bucket_size"]
