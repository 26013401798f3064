"""Where golden records live in memory: the record, its O(1) update, identity resolution."""

from ._aggregates import Aggregator, RecordSettings
from ._merge import merge_into
from ._portrait import lifecycle, tag, tags
from ._profile import Profile, decode_profile, encode_profile
from ._resolve import Merge, ProfileState, Resolver, identity_keys
from ._touch import cart_after, category_key, category_of, item_price, line_value

__all__ = [
    "Aggregator",
    "Merge",
    "Profile",
    "ProfileState",
    "RecordSettings",
    "Resolver",
    "cart_after",
    "category_key",
    "category_of",
    "decode_profile",
    "encode_profile",
    "identity_keys",
    "item_price",
    "lifecycle",
    "line_value",
    "merge_into",
    "tag",
    "tags",
]
