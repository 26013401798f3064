"""Where golden records live in memory: the record, its O(1) update, identity resolution."""

from ._aggregates import Aggregator, RecordSettings
from ._consent import OPT_IN, PURPOSES, permits
from ._items import (
    BUY,
    ITEM_FEATURES,
    ItemMemory,
    ItemView,
    bought,
    bucket,
    item_of,
    kind_of,
    observe,
)
from ._lookup import find_keys, phone_key
from ._merge import merge_into
from ._models import RecordModel
from ._portrait import ACTIVE_DAYS, AT_RISK_DAYS, DAY, NEW_DAYS, lifecycle, tag, tags
from ._profile import (
    Profile,
    ScenarioProgress,
    ScenarioState,
    Times,
    decode_profile,
    encode_profile,
    new_times,
)
from ._resolve import Merge, ProfileState, Resolver, contact_keys, identity_keys, lookup_keys
from ._touch import (
    cart_after,
    category_key,
    category_of,
    consents_of,
    item_price,
    line_value,
    revenue_of,
)

__all__ = [
    "ACTIVE_DAYS",
    "AT_RISK_DAYS",
    "BUY",
    "DAY",
    "ITEM_FEATURES",
    "NEW_DAYS",
    "OPT_IN",
    "PURPOSES",
    "Aggregator",
    "ItemMemory",
    "ItemView",
    "Merge",
    "Profile",
    "ProfileState",
    "RecordModel",
    "RecordSettings",
    "Resolver",
    "ScenarioProgress",
    "ScenarioState",
    "Times",
    "bought",
    "bucket",
    "cart_after",
    "category_key",
    "category_of",
    "consents_of",
    "contact_keys",
    "decode_profile",
    "encode_profile",
    "find_keys",
    "identity_keys",
    "item_of",
    "item_price",
    "kind_of",
    "lifecycle",
    "line_value",
    "lookup_keys",
    "merge_into",
    "new_times",
    "observe",
    "permits",
    "phone_key",
    "revenue_of",
    "tag",
    "tags",
]
