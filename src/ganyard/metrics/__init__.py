"""Feature backbones and the scores computed from features."""
