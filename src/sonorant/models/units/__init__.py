"""Unit codecs: k-means units over a voice's vocoder input frames (`codec.UnitCodec`), decoded by the voice's
own vocoder, and the k-means that fits them (`kmeans`)."""

from .codec import UnitCodec, UnitStreamState, nearest, unit_vectors
from .kmeans import KMeansResult, assign, fit_kmeans, kmeans_pp

__all__ = ["KMeansResult", "UnitCodec", "UnitStreamState", "assign", "fit_kmeans", "kmeans_pp", "nearest",
           "unit_vectors"]
