"""Engine: ids -> buckets -> batches -> runtime -> trimmed audio."""

from .buckets import BucketConfig, bucket_size
from .engine import Engine, Utterance
from .streaming import StreamConfig

__all__ = ["BucketConfig", "Engine", "StreamConfig", "Utterance", "bucket_size"]
