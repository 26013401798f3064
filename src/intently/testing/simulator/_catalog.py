"""The simulated shop's catalog: categories, products, prices and co-purchase bundles."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    name: str
    category: str
    price: float


_ITEMS: dict[str, list[tuple[str, float]]] = {
    "electronics": [("smartphone", 699.0), ("laptop", 1199.0), ("headphones", 199.0),
                    ("smartwatch", 299.0), ("tablet", 499.0), ("camera", 849.0)],
    "accessories": [("phone case", 25.0), ("charger", 35.0), ("screen protector", 15.0),
                    ("laptop sleeve", 40.0)],
    "groceries": [("champagne", 39.0), ("candy box", 12.0), ("flowers", 29.0),
                  ("pasta", 3.5), ("tomato sauce", 4.0), ("parmesan", 9.0), ("coffee", 11.0),
                  ("milk", 1.5), ("bread", 2.5), ("cheese", 7.0), ("wine", 18.0)],
    "fashion": [("sneakers", 120.0), ("dress", 89.0), ("jacket", 159.0), ("socks", 9.0),
                ("scarf", 35.0)],
    "home": [("lamp", 59.0), ("cushion", 25.0), ("vase", 45.0), ("blanket", 69.0)],
    "beauty": [("perfume", 79.0), ("lipstick", 22.0), ("face cream", 39.0)],
}

BUNDLES: list[tuple[tuple[str, ...], str, float]] = [
    # (basket core, add-on, probability the add-on joins): the structure rules should find
    (("champagne", "candy box"), "flowers", 0.65),
    (("pasta", "tomato sauce"), "parmesan", 0.6),
    (("smartphone",), "phone case", 0.7),
    (("laptop",), "laptop sleeve", 0.5),
    (("sneakers",), "socks", 0.5),
    (("coffee",), "milk", 0.55),
]


class Catalog:
    def __init__(self) -> None:
        self.products: list[Product] = []
        self.by_name: dict[str, Product] = {}
        self.by_category: dict[str, list[Product]] = {}
        for category, items in _ITEMS.items():
            for n, (name, price) in enumerate(items):
                product = Product(f"{category[:3]}-{n + 1:03d}", name, category, price)
                self.products.append(product)
                self.by_name[name] = product
                self.by_category.setdefault(category, []).append(product)

    def pick(self, rng: random.Random, category: str) -> Product:
        return rng.choice(self.by_category[category])

    def basket(self, rng: random.Random) -> list[Product]:
        """A grocery-style basket with co-purchase structure."""
        names: list[str] = []
        for core, addon, p in rng.sample(BUNDLES, k=rng.randint(1, 2)):
            if rng.random() < 0.8:
                names.extend(core)
                if rng.random() < p:
                    names.append(addon)
        while len(names) < 2:
            names.append(rng.choice(_ITEMS["groceries"])[0])
        return [self.by_name[n] for n in dict.fromkeys(names)]
