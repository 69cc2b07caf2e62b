"""Index models (dimensions → indicators) and the survey questions built from them.

Two models ship as templates: the 5-dimension, 19-indicator index of the
Vipshop study (website, product, payment, service, logistics) and a
4-dimension model (product function, service quality, after-sales support,
user experience). A tenant can define its own (surveys.create_index_model);
a survey copies the model it was built from, so editing a model later never
changes what a stored answer byte means.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# The 5-point scale, best first (stored 5..1); 0 in a scores byte = not answered.
SCALE_LABELS = {5: ("非常满意", "Very satisfied"), 4: ("满意", "Satisfied"), 3: ("一般", "Neutral"),
                2: ("不满意", "Dissatisfied"), 1: ("非常不满", "Very dissatisfied")}
REPURCHASE_LABELS = {5: ("一定会", "Definitely will"), 4: ("可能会", "Probably will"), 3: ("说不准", "Not sure"),
                     2: ("可能不会", "Probably not"), 1: ("一定不会", "Definitely not")}
RECOMMEND_LABELS = {1: ("会", "Yes"), 2: ("不会", "No"), 3: ("不知道", "Don't know")}
RECOMMEND_CODES = {"YES": 1, "NO": 2, "DONT_KNOW": 3}


@dataclass(frozen=True)
class Indicator:
    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Dimension:
    code: str
    zh: str
    en: str
    indicators: tuple[Indicator, ...]


@dataclass(frozen=True)
class IndexModel:
    code: str
    zh: str
    en: str
    dimensions: tuple[Dimension, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "IndexModel":
        return cls(code=data["code"], zh=data["zh"], en=data["en"], dimensions=tuple(
            Dimension(d["code"], d["zh"], d["en"], tuple(Indicator(i["code"], i["zh"], i["en"]) for i in d["indicators"]))
            for d in data["dimensions"]))

    @property
    def indicator_count(self) -> int:
        return sum(len(d.indicators) for d in self.dimensions)


def _dim(code: str, zh: str, en: str, *indicators: tuple[str, str, str]) -> Dimension:
    return Dimension(code, zh, en, tuple(Indicator(*i) for i in indicators))


VIPSHOP = IndexModel("VIPSHOP_5X19", "网购顾客满意度指数（5维19项）", "Online shopper satisfaction index (5 × 19)", (
    _dim("WEBSITE", "网站", "Website",
         ("DESIGN", "网站设计", "Site design"), ("EASE_OF_USE", "操作便捷", "Ease of use"),
         ("VISUAL", "视觉效果", "Visual effect")),
    _dim("PRODUCT", "商品", "Product",
         ("QUALITY", "商品质量", "Product quality"), ("PRICE", "商品价格", "Price"),
         ("SUPPLY", "货源稳定", "Stable supply"), ("EXPECTATION", "符合预期", "Meets expectations")),
    _dim("PAYMENT", "支付", "Payment",
         ("SECURITY", "支付安全", "Payment security"), ("VARIETY", "支付方式多样", "Payment variety"),
         ("CONVENIENCE", "支付便捷", "Payment convenience")),
    _dim("SERVICE", "服务", "Service",
         ("HUMANE", "人性化服务", "Humane service"), ("ORDER_LOOKUP", "订单查询", "Order lookup"),
         ("GRIEVANCE", "申诉解决", "Grievance resolution"), ("COMPLAINT_HANDLING", "投诉处理", "Complaint handling"),
         ("SUGGESTIONS", "建议采纳", "Adoption of suggestions")),
    _dim("LOGISTICS", "物流", "Logistics",
         ("COURIER", "快递员态度", "Courier attitude"), ("SPEED_SAFETY", "配送速度与安全", "Speed and safety"),
         ("TRACKING", "物流信息更新", "Tracking updates"), ("FEEDBACK", "反馈响应", "Response to feedback")),
))

FOUR_DIMENSION = IndexModel("FOUR_DIMENSION", "顾客满意度四维模型", "Four-dimension satisfaction model", (
    _dim("PRODUCT_FUNCTION", "产品功能", "Product function",
         ("MEETS_NEEDS", "功能满足需要", "Meets needs"), ("RELIABILITY", "性能可靠", "Reliability"),
         ("QUALITY", "做工质量", "Build quality")),
    _dim("SERVICE_QUALITY", "服务质量", "Service quality",
         ("ATTITUDE", "服务态度", "Staff attitude"), ("RESPONSIVENESS", "响应及时", "Responsiveness"),
         ("EXPERTISE", "专业程度", "Expertise")),
    _dim("AFTER_SALES", "售后支持", "After-sales support",
         ("RETURNS", "退换货", "Returns and exchanges"), ("REPAIR", "维修保养", "Repair and maintenance"),
         ("COMPLAINTS", "投诉处理", "Complaint handling")),
    _dim("USER_EXPERIENCE", "用户体验", "User experience",
         ("EASE", "使用便捷", "Ease of use"), ("ENVIRONMENT", "购物环境", "Shopping environment"),
         ("VALUE", "物有所值", "Value for money")),
))

TEMPLATES: dict[str, IndexModel] = {model.code: model for model in (VIPSHOP, FOUR_DIMENSION)}


def template_questions(model: IndexModel) -> list[dict]:
    """The standard questionnaire of a model: one scale question per indicator
    ("您对…是否满意"), then overall satisfaction, repurchase intention, would you
    recommend, NPS and a free-text comment."""
    questions: list[dict] = []
    for dimension in model.dimensions:
        for indicator in dimension.indicators:
            questions.append({
                "code": f"{dimension.code}__{indicator.code}", "kind": "SCALE", "target": "INDICATOR",
                "dimension": dimension.code, "indicator": indicator.code,
                "zh": f"您对{dimension.zh}的「{indicator.zh}」是否满意？",
                "en": f"How satisfied are you with {dimension.en.lower()}: {indicator.en.lower()}?",
                "required": False,
            })
    questions += [
        {"code": "OVERALL", "kind": "SCALE", "target": "OVERALL", "zh": "总体而言，您是否满意？",
         "en": "Overall, how satisfied are you?", "required": True},
        {"code": "REPURCHASE", "kind": "SCALE", "target": "REPURCHASE", "zh": "您是否会再次购买？",
         "en": "Will you buy from us again?", "required": False},
        {"code": "RECOMMEND", "kind": "RECOMMEND", "zh": "您会向亲友推荐我们吗？",
         "en": "Would you recommend us to friends and family?", "required": False},
        {"code": "NPS", "kind": "NPS", "zh": "您有多大可能向朋友推荐我们？（0–10）",
         "en": "How likely are you to recommend us to a friend? (0–10)", "required": False},
        {"code": "COMMENT", "kind": "TEXT", "zh": "还有什么想对我们说的？", "en": "Anything else you would like to tell us?",
         "required": False},
    ]
    return questions
