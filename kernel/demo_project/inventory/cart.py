"""A shopping cart that prices its entries."""


class Cart:
    def __init__(self) -> None:
        self.entries: list[tuple[str, float, int]] = []

    def add(self, name: str, price: float, quantity: int = 1) -> None:
        if quantity < 1:
            raise ValueError(f"quantity must be at least 1, got {quantity}")
        self.entries.append((name, price, quantity))

    def total(self) -> float:
        total = 0.0
        for _name, price, quantity in self.entries:
            total += price * quantity
        return totl

    def count(self) -> int:
        return sum(quantity for _name, _price, quantity in self.entires)
