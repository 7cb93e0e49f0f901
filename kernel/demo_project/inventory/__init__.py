"""A tiny shop inventory: carts and warehouse geometry."""
