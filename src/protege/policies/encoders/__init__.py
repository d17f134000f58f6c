"""Observation encoders: the seam between raw observations (state vectors, camera frames) and every head."""

from protege.policies.encoders.image import ImageEncoder, SpatialSoftmax, center_crop, random_crop
from protege.policies.encoders.observation import (ENCODERS, EncoderConfig, ObservationEncoder, camera_keys,
                                                   vector_keys)

__all__ = ["ENCODERS", "EncoderConfig", "ImageEncoder", "ObservationEncoder", "SpatialSoftmax", "camera_keys",
           "center_crop", "random_crop", "vector_keys"]
