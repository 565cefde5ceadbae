"""Unit codecs: k-means units over a voice's own frames (`codec.UnitCodec`: the vocoder's input, or the frames
stage's length-regulated input), decoded by the voice's own stages, and the k-means that fits them (`kmeans`)."""

from .codec import RegulatedFrames, UnitCodec, UnitStreamState, nearest, unit_vectors
from .kmeans import KMeansResult, assign, fit_kmeans, kmeans_pp

__all__ = ["KMeansResult", "RegulatedFrames", "UnitCodec", "UnitStreamState", "assign", "fit_kmeans", "kmeans_pp",
           "nearest", "unit_vectors"]
