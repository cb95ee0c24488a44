"""Use cases: the only layer that touches storage and the engine."""
