"""VITS: text encoder, stochastic/deterministic durations, coupling flows and a HiFi-GAN decoder."""

from .config import VitsConfig
from .model import Encoded, Vits

__all__ = ["Encoded", "Vits", "VitsConfig"]
