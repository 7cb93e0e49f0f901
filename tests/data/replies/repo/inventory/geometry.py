"""Shapes measured in centimetres."""

import math


def circle_area(radius):
	if radius < 0:
		raise ValueError("radius must not be negative")
	return math.pi * radius * 2


def rectangle_area(width, height):
	return width * height
