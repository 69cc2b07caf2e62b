"""Phone numbers in one form: E.164 (``+8613800138000``), checked with phonenumbers.

A number written without a country code is read in the tenant's region, the
region part of its locale (``zh-CN`` -> ``CN``); a locale without one
(``en``) reads it as Chinese, the market Guanxi serves first. docs/customers.md.
"""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "CN"


def region_of_locale(locale: str | None) -> str:
    """``zh-CN`` -> ``CN``, ``en-US`` -> ``US``; ``DEFAULT_REGION`` without a region part."""
    parts = (locale or "").replace("_", "-").split("-")
    region = parts[1].upper() if len(parts) > 1 else ""
    return region if region in phonenumbers.SUPPORTED_REGIONS else DEFAULT_REGION


def normalise_phone(text: str, region: str = DEFAULT_REGION) -> str:
    """The number in E.164; ValueError naming the problem when it cannot be a real number."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"{text!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{text!r} is not a valid phone number (read in region {region} unless it starts with +)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
