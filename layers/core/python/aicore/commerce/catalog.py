"""What a purchase grants: the provider's price (or product) id -> an entitlement of ours.

`catalog.json` beside this file is the default; `PAYMENTS_CATALOG` (the same JSON) replaces it
per environment. A price id we do not know grants nothing (the delivery is acknowledged and logged).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

ENTITLEMENT_ID = r"^[a-z0-9][a-z0-9_.\-]{0,63}$"
PROVIDER_ID = r"^[A-Za-z0-9_]{1,128}$"
DEFAULT_CATALOG = Path(__file__).with_name("catalog.json")


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prices: dict[str, str] = Field(max_length=1000)  # provider price or product id -> entitlement
    entitlements: dict[str, str] = Field(max_length=200)  # entitlement -> what it is, for people

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        for price, entitlement in self.prices.items():
            if not re.fullmatch(PROVIDER_ID, price):
                raise ValueError(f"catalog: price id {price[:40]!r} is not 1-128 of A-Za-z0-9_")
            if entitlement not in self.entitlements:
                raise ValueError(
                    f"catalog: price {price!r} grants {entitlement!r}, which is not an entitlement"
                )
        for entitlement in self.entitlements:
            if not re.fullmatch(ENTITLEMENT_ID, entitlement):
                raise ValueError(f"catalog: entitlement {entitlement[:40]!r} is not a lower-case id")
        return self

    def entitlement_for(self, price_id: str) -> str | None:
        return self.prices.get(price_id)


@lru_cache(maxsize=4)
def load_catalog(override_json: str | None = None) -> Catalog:
    """The environment's catalog (`PAYMENTS_CATALOG`), else the packaged one."""
    raw = override_json if override_json is not None else DEFAULT_CATALOG.read_text(encoding="utf-8")
    return Catalog.model_validate(json.loads(raw))
