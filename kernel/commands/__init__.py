"""The command groups of the ``agentos`` CLI, one module each.

Each module has ``register(commands)``, which adds its subparser to the
``agentos`` parser and sets ``run`` as the parser default: a function that
takes the parsed arguments and a Reporter and returns the exit code.
"""
