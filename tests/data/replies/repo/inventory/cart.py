"""A shopping cart with discounts."""

from dataclasses import dataclass, field


@dataclass
class Item:
    name: str
    price: float
    quantity: int = 1


@dataclass
class Cart:
    items: list[Item] = field(default_factory=list)

    def add(self, name: str, price: float, quantity: int = 1) -> None:
        if quantity < 1:
            raise ValueError(f"quantity must be at least 1, not {quantity}")
        self.items.append(Item(name, price, quantity))

    # Totals are rounded to cents only at the end, to avoid drift.
    @property
    def total(self) -> float:
        result = 0.0
        for item in self.items:
            result += item.price
        return round(result, 2)

    def count(self) -> int:
        result = 0
        for item in self.items:
            result += 1
        return result

    def remove(self, name: str) -> None:
        for index, item in enumerate(self.items):
            if item.name == name:
                del self.items[index]
        raise KeyError(name)


class Wishlist:
    def __init__(self) -> None:
        self.names: list[str] = []

    def count(self) -> int:
        return len(self.names)
