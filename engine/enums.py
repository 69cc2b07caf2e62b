"""Stable enum codes with Chinese and English labels (DOMAIN.md).

Codes are what the API and the database store; labels are for people.
"""

from __future__ import annotations

import enum


class LabeledEnum(enum.Enum):
    """An enum whose members carry ``zh`` and ``en`` labels.

    Declare members as ``CODE = ("zh label", "en label")``; ``member.code`` (the
    name) is what the API and the database store.
    """

    def __init__(self, zh: str, en: str):
        self.zh = zh
        self.en = en

    def __str__(self) -> str:
        return self.name

    @property
    def code(self) -> str:
        return self.name

    @classmethod
    def _missing_(cls, value):
        # Look members up by code: Channel("WECHAT") is Channel.WECHAT.
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls.__members__[value.upper()]
        return None

    def label(self, lang: str = "zh") -> str:
        return self.zh if lang.lower().startswith("zh") else self.en

    @classmethod
    def parse(cls, value: str):
        """The member for a code, or a ValueError naming the allowed codes."""
        if isinstance(value, cls):
            return value
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            allowed = ", ".join(m.name for m in cls)
            raise ValueError(f"unknown value {value!r}; expected one of {allowed}") from None


class InteractionKind(LabeledEnum):
    PURCHASE = ("购买", "Purchase")
    REFUND = ("退换货", "Refund / return")
    VISIT = ("到店", "Visit")
    CONTACT = ("咨询", "Contact / consultation")
    REVISIT = ("回访", "Revisit call")
    EVENT = ("活动参与", "Event attendance")
    REFERRAL = ("推荐", "Referral")
    FEEDBACK = ("建议", "Feedback / suggestion")
    COMPLAINT = ("投诉", "Complaint")
    SURVEY = ("调查问卷", "Survey response")


class Channel(LabeledEnum):
    PHONE = ("电话", "Phone")
    SMS = ("短信", "SMS")
    EMAIL = ("邮件", "Email")
    WECHAT = ("微信", "WeChat")
    WEB = ("网站", "Web")
    APP = ("应用", "App")
    IN_STORE = ("门店", "In store")
    SOCIAL = ("社交媒体", "Social media")
    HOTLINE = ("热线", "Hotline")
    OTHER = ("其他", "Other")


class Gender(LabeledEnum):
    FEMALE = ("女", "Female")
    MALE = ("男", "Male")
    OTHER = ("其他", "Other")
    UNKNOWN = ("未知", "Unknown")


class AcquisitionChannel(LabeledEnum):
    AD = ("广告", "Advertising")
    REFERRAL = ("朋友推荐", "Referral")
    WALK_IN = ("无意接触", "Walk-in")
    OTHER = ("其他", "Other")


class PriceSensitivity(LabeledEnum):
    LOW = ("低", "Low")
    MEDIUM = ("中", "Medium")
    HIGH = ("高", "High")


class CustomerRole(LabeledEnum):
    POTENTIAL = ("潜在客户", "Potential")
    EXISTING = ("现有客户", "Existing")
    CHURNED = ("流失客户", "Churned")


class LifecycleStage(LabeledEnum):
    EXPLORATION = ("考察期", "Exploration")
    DEVELOPMENT = ("发展期", "Development")
    STABLE = ("稳定期", "Stable")
    DECLINE = ("退化期", "Decline")


class Role(LabeledEnum):
    """API key roles, from most to least powerful within a tenant."""

    ADMIN = ("管理员", "Admin")
    AGENT = ("客服专员", "Agent")
    ANALYST = ("分析员", "Analyst")
    VIEWER = ("只读", "Viewer")
    PLATFORM = ("平台管理", "Platform")  # belongs to no tenant; manages tenants
