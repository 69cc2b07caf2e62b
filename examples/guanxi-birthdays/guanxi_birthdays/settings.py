"""The birthdays module's per-tenant settings (``configureModule``).

``greetings`` is ordered: a customer gets the first greeting whose channel
they consented to (``Customer.consent``), and none if they consented to none.
Templates may use ``{name}`` (the customer's name) and ``{shop}`` (the
tenant's name) and nothing else, so a typo is caught when the admin saves
it, not when the job runs.
"""

from __future__ import annotations

from string import Formatter

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.enums import Channel

PLACEHOLDERS = ("name", "shop")


class Greeting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(description="A channel code: WECHAT, SMS, EMAIL, APP, ...")
    template: str = Field(min_length=1, max_length=500, description="The message; {name} and {shop} are filled in.")

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str) -> str:
        return Channel.parse(value).code  # "unknown value 'FAX'; expected one of PHONE, SMS, ..."

    @field_validator("template")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        try:
            fields = [field for _, field, _, _ in Formatter().parse(value) if field is not None]
        except ValueError as error:  # a lone "{" or "}"
            raise ValueError(f"{error}; write {{{{ and }}}} for literal braces") from None
        unknown = [f"{{{field}}}" for field in fields if field not in PLACEHOLDERS]
        if unknown:
            raise ValueError(f"unknown placeholder {', '.join(unknown)}; use {{name}} and {{shop}}")
        return value

    def render(self, name: str, shop: str) -> str:
        return self.template.format(name=name, shop=shop)


DEFAULT_GREETINGS = [
    Greeting(channel="WECHAT", template="{name}，生日快乐！🎂 {shop} 为您准备了生日礼遇，生日当月到店即可领取。"),
    Greeting(channel="SMS", template="【{shop}】{name}，祝您生日快乐！生日当月到店可领取专属礼遇。"),
]


class BirthdaysSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days_ahead: int = Field(7, ge=0, le=60, strict=True,
                            description="Queue a greeting this many days before the birthday (0: on the day).")
    greetings: list[Greeting] = Field(default_factory=lambda: list(DEFAULT_GREETINGS),
                                      description="In order of preference: the first consented channel is used.")

    @field_validator("greetings")
    @classmethod
    def _one_per_channel(cls, greetings: list[Greeting]) -> list[Greeting]:
        channels = [greeting.channel for greeting in greetings]
        repeated = sorted({channel for channel in channels if channels.count(channel) > 1})
        if repeated:
            raise ValueError(f"one greeting per channel; {', '.join(repeated)} appears more than once")
        return greetings

    def greeting_for(self, consent: dict) -> Greeting | None:
        """The first greeting whose channel the customer consented to."""
        return next((greeting for greeting in self.greetings if consent.get(greeting.channel) is True), None)
