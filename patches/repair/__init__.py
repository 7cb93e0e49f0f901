"""The offline repair engine: exception-driven rules, fault localisation and a mutation search.

``rules`` derives fixes from a traceback and the code, ``sbfl`` ranks suspicious
lines, ``mutations`` rewrites one line in small ways, and ``search`` combines
the last two within a budget. The offline provider calls them after its own
lint and rename rules.
"""
