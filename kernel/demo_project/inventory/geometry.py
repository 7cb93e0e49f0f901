"""Distances between shelves in the warehouse, in metres."""

import os


def distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Return the straight-line distance between two shelf positions."""
    return math.sqrt((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2)


def route_length(stops: list[tuple[float, float]]) -> float:
    """Return the length of a walk that visits the stops in order."""
    return sum(distance(here, there) for here, there in zip(stops, stops[1:]))
