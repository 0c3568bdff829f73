"""The portal's message catalogue: Chinese by default, English on request."""

from __future__ import annotations

from fastapi import Request

DEFAULT = "zh"
COOKIE = "shugu_lang"
HTML_LANG = {"zh": "zh-CN", "en": "en"}

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "site": "数谷数据交易平台",
        "nav.catalog": "数据目录",
        "nav.logout": "退出登录",
        "nav.language": "语言",
        "login.title": "登录",
        "login.username": "用户名",
        "login.password": "密码",
        "login.submit": "登录",
        "login.failed": "用户名或密码错误。",
        "csrf.failed": "表单已过期，请重新提交。",
        "catalog.title": "数据目录",
        "catalog.search": "搜索数据产品",
        "catalog.category": "分类",
        "catalog.tag": "标签",
        "catalog.submit": "搜索",
        "catalog.empty": "没有找到符合条件的数据产品。",
        "catalog.total": "共 {n} 个数据产品",
        "catalog.next": "下一页",
        "catalog.mine": "本机构的数据产品",
        "product.provider": "提供方",
        "product.status": "状态",
        "product.sheet": "数据产品说明书",
        "product.source": "数据来源",
        "product.scenario": "应用场景",
        "product.frequency": "更新频率",
        "product.category": "分类",
        "product.tags": "标签",
        "product.tables": "数据表",
        "product.rows": "行数",
        "product.column": "字段",
        "product.type": "类型",
        "product.nullable": "可为空",
        "product.none": "未填写",
        "product.no_tables": "尚无数据表。",
        "quality.title": "上架质量报告",
        "quality.overall": "综合得分",
        "quality.dimension": "维度",
        "quality.score": "得分",
        "quality.none": "该产品尚未提交上架审核。",
        "offers.title": "报价",
        "offers.name": "名称",
        "offers.plan": "计费方式",
        "offers.price": "价格（元）",
        "offers.period": "周期",
        "offers.none": "暂无报价。",
        "yes": "是",
        "no": "否",
        "notfound.title": "页面不存在",
        "notfound.body": "您要访问的页面不存在或您无权查看。",
        "back": "返回数据目录",
    },
    "en": {
        "site": "shugu data exchange",
        "nav.catalog": "Catalogue",
        "nav.logout": "Sign out",
        "nav.language": "Language",
        "login.title": "Sign in",
        "login.username": "Username",
        "login.password": "Password",
        "login.submit": "Sign in",
        "login.failed": "Wrong username or password.",
        "csrf.failed": "The form has expired; please submit it again.",
        "catalog.title": "Data catalogue",
        "catalog.search": "Search data products",
        "catalog.category": "Category",
        "catalog.tag": "Tag",
        "catalog.submit": "Search",
        "catalog.empty": "No data product matches.",
        "catalog.total": "{n} data products",
        "catalog.next": "Next page",
        "catalog.mine": "Your organisation's products",
        "product.provider": "Provider",
        "product.status": "Status",
        "product.sheet": "Product description sheet",
        "product.source": "Data source",
        "product.scenario": "Scenarios",
        "product.frequency": "Update frequency",
        "product.category": "Category",
        "product.tags": "Tags",
        "product.tables": "Tables",
        "product.rows": "Rows",
        "product.column": "Field",
        "product.type": "Type",
        "product.nullable": "Nullable",
        "product.none": "Not given",
        "product.no_tables": "No tables yet.",
        "quality.title": "Listing quality report",
        "quality.overall": "Overall score",
        "quality.dimension": "Dimension",
        "quality.score": "Score",
        "quality.none": "This product has not been submitted for listing.",
        "offers.title": "Offers",
        "offers.name": "Name",
        "offers.plan": "Plan",
        "offers.price": "Price (yuan)",
        "offers.period": "Period",
        "offers.none": "No offers yet.",
        "yes": "yes",
        "no": "no",
        "notfound.title": "Page not found",
        "notfound.body": "The page does not exist or you may not see it.",
        "back": "Back to the catalogue",
    },
}


def requested(request: Request) -> str | None:
    """The language asked for in the query string, if it is one we have."""
    lang = request.query_params.get("lang")
    return lang if lang in MESSAGES else None


def language(request: Request) -> str:
    """?lang= first, then the cookie, then Chinese."""
    cookie = request.cookies.get(COOKIE)
    return requested(request) or (cookie if cookie in MESSAGES else DEFAULT)


def translator(lang: str) -> Translate:
    return Translate(MESSAGES[lang])


class Translate:
    def __init__(self, messages: dict[str, str]) -> None:
        self.messages = messages

    def __call__(self, key: str, **values: object) -> str:
        # A missing key shows itself rather than failing the page; tests check both
        # catalogues have the same keys.
        text = self.messages.get(key, key)
        return text.format(**values) if values else text
