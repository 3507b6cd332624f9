"""Contact segments: saved audiences defined by conditions, evaluated at query time."""
