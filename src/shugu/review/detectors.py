"""Personal-information detectors: RE2 patterns for DuckDB, check-digit rules, masking.

Each detector is a regular expression that finds candidates in a cell (the first one per
cell) and, for the numbers that carry a check digit, a SQL expression that confirms it, so
that the expensive part runs only on candidates and everything stays inside DuckDB's
vectorised engine. The same rules exist as plain Python functions (`resident_id_valid`,
`luhn_valid`, the USCC check in shugu.identity.uscc) for tests and for readers.

A detector whose check digit passes at chance rate (a column of random numbers: one in ten
passes Luhn, one in eleven the ID-card check) is not `confirmed` for that column unless the
column's name suggests the kind, or most candidates pass (see `CONFIRM_SHARE`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from shugu.identity.uscc import ALPHABET, check_character

HAN = "一-龥"
# The most common surnames (about 85% of the population) and the usual compound ones.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容",
                     "令狐", "长孙", "宇文", "司徒", "夏侯", "轩辕", "端木", "西门", "南宫")
# Last characters of place, organisation and industry words that the name pattern would
# otherwise take for given names (江干区, 金融业, 王府井店).
NOT_NAME_ENDINGS = "区县市省州业局司行厂店院所部室村镇路街园站馆场中校团会处科组"

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
CONFIRM_SHARE = 0.5  # share of candidates that must pass a check digit, absent a column hint


@dataclass(frozen=True)
class Detector:
    key: str
    label_zh: str
    # RE2 pattern of one candidate, without the context that delimits it.
    core: str
    # "extract": the candidate may sit inside longer text (the cell is tried whole first);
    # "cell": the whole cell is the candidate; "contains": the cell holds the pattern.
    mode: str
    checked: bool  # candidates must pass a check digit; decides `confirmed` with the share
    hint: str  # column-name pattern (case-insensitive) that makes the kind expected
    numeric: bool  # also applies to integer columns
    sensitive: bool  # 敏感个人信息 (PIPL art. 28): makes a product high risk

    @property
    def pattern(self) -> str:
        """The pattern applied to a cell: the candidate (group 1) within its delimiters."""
        if self.mode == "cell":
            return f"^\\s*({self.core})\\s*$"
        if self.mode == "contains":
            return f"({self.core})"
        edge = "0-9A-Za-z" if self.key in ("email", "uscc") else "0-9"
        return f"(?:^|[^{edge}])({self.core})(?:$|[^{edge}])"


_USCC_CHAR = "[0-9A-HJ-NP-RTUWXY]"


def _han_except(chars: str) -> str:
    """A character class of the CJK block without `chars` (RE2 has no look-around)."""
    ranges, start = [], 0x4E00
    for code in sorted(ord(c) for c in set(chars)):
        if code > start:
            ranges.append(f"{chr(start)}-{chr(code - 1)}" if code - 1 > start else chr(start))
        start = code + 1
    ranges.append(f"{chr(start)}-{chr(0x9FA5)}")
    return "[" + "".join(ranges) + "]"


DETECTORS: tuple[Detector, ...] = (
    Detector("id_card", "居民身份证号码",
             "[1-9][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
             "[0-9]{3}[0-9Xx]", "extract", True,
             r"身份证|证件|公民|id_?card|id_?no|idno|sfz|identity|citizen", True, True),
    Detector("mobile", "手机号码", "1[3-9][0-9]{9}", "extract", False,
             r"手机|电话|联系方式|mobile|phone|tel|cell", True, False),
    Detector("bank_card", "银行卡号", "(?:62|5[1-5]|9[45])[0-9]{14,17}|4[0-9]{15,18}", "extract",
             True, r"卡号|银行卡|账号|账户|card|account|acct", True, True),
    Detector("email", "电子邮箱",
             "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}", "extract",
             False, r"邮箱|邮件|e_?mail|mail", False, False),
    Detector("uscc", "统一社会信用代码", f"[1-9ANY][1-9][0-9]{{6}}{_USCC_CHAR}{{10}}", "extract",
             True, r"信用代码|社会信用|uscc|credit_?code|org_?code", False, False),
    Detector("person_name", "姓名",
             f"(?:{'|'.join(COMPOUND_SURNAMES)}|[{SURNAMES}])[{HAN}]?{_han_except(NOT_NAME_ENDINGS)}",
             "cell", False,
             r"姓名|名字|联系人|法人|负责人|客户|持卡人|户主|收件人|name|contact|person",
             False, False),
    Detector("address", "地址",
             "(?:路|街|大道|巷|弄|胡同|村|小区|社区|里)[0-9一二三四五六七八九十百零〇-]{1,6}号"
             "|[0-9]{1,4}(?:幢|栋|号楼|单元)[0-9]{0,4}",
             "contains", False, r"地址|住址|住所|address|addr", False, False),
)
BY_KEY = {d.key: d for d in DETECTORS}


def hinted(detector: Detector, column: str) -> bool:
    return re.search(detector.hint, column, re.IGNORECASE) is not None


# -- Python forms of the checks (the SQL below must agree with them) -------------------------

def resident_id_valid(value: str, today: date | None = None) -> bool:
    """GB 11643-1999: 18 characters, a real birth date not in the future, ISO 7064 MOD 11-2."""
    value = value.upper()
    if re.fullmatch(r"[1-9][0-9]{16}[0-9X]", value) is None:
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > (today or date.today()):
        return False
    total = sum(int(c) * w for c, w in zip(value[:17], ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11] == value[17]


def luhn_valid(value: str) -> bool:
    if not value.isdigit() or not value.isascii():
        return False
    total = 0
    for j, c in enumerate(reversed(value)):
        d = int(c)
        if j % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def uscc_valid(value: str) -> bool:
    return len(value) == 18 and all(c in ALPHABET for c in value) and \
        check_character(value[:17]) == value[17]


# -- SQL forms ---------------------------------------------------------------------------------

def id_card_sql(x: str, n: str) -> str:
    """TRUE when the candidate `x` (shaped by the pattern) is valid; `n` is its first 17
    digits as a BIGINT. Digits by integer arithmetic: many times faster than substrings."""
    total = " + ".join(f"((({n}) // {10 ** (16 - i)}) % 10) * {w}"
                       for i, w in enumerate(ID_WEIGHTS))
    return (f"(substr('{ID_CHECK}', CAST(({total}) % 11 AS INTEGER) + 1, 1) "
            f"= upper(substr({x}, 18, 1)) "
            f"AND try_strptime(substr({x}, 7, 8), '%Y%m%d') <= current_date)")


# Luhn contribution of a pair of digits "ab" whose a is doubled and b is not.
_LUHN_PAIRS = [(2 * (p // 10) - (9 if p // 10 > 4 else 0)) + p % 10 for p in range(100)]


def luhn_sql(n: str) -> str:
    """TRUE when the number `n` (a UBIGINT of up to 19 digits) passes Luhn: ten two-digit
    groups from the right, each looked up in a table of its contribution."""
    table = "[" + ", ".join(map(str, _LUHN_PAIRS)) + "]"
    terms = [f"{table}[CAST((({n}) // CAST({100 ** k} AS UBIGINT)) % 100 AS INTEGER) + 1]"
             for k in range(10)]
    return f"(({' + '.join(terms)}) % 10 = 0)"


def uscc_sql(x: str) -> str:
    def value(i: int) -> str:
        return f"(instr('{ALPHABET}', substr({x}, {i}, 1)) - 1)"

    total = " + ".join(f"{value(i + 1)} * {w}" for i, w in enumerate(
        (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)))
    return f"(substr('{ALPHABET}', ((31 - ({total}) % 31) % 31) + 1, 1) = substr({x}, 18, 1))"


# -- masking -----------------------------------------------------------------------------------

def mask(key: str, value: str) -> str:
    """A sample that shows the kind of a value, never the value (GB/T 37964 style)."""
    v = value.strip()
    if key in ("id_card", "bank_card", "uscc"):
        return v[:6] + "*" * (len(v) - 10) + v[-4:] if len(v) > 12 else "*" * len(v)
    if key == "mobile":
        return v[:3] + "****" + v[-4:]
    if key == "email":
        local, _, domain = v.partition("@")
        return (local[:1] or "*") + "***@" + domain
    if key == "person_name":
        return v[:1] + "*" * (len(v) - 1)
    if key == "address":
        return v[:min(6, len(v) // 3)] + "****"
    return "****"
