"""Plain-text reports of a cart."""


def line(name, price, quantity):
    return f"{name:<20}{quantity:>4} x {price:>8.2f}"


def total(lines):
    return sum(price for _, price, quantity in lines)


def render(lines):
    rows = [line(name, price, quantity) for name, price, quantity in lines]
    rows.append("-" * 36)
    rows.append(f"{'total':<20}{total(lines):>16.2f}")
    return "\n".join(rows)
