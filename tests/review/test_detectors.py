"""Each detector, its check digits (SQL in DuckDB against the Python rules) and masking."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shugu.identity.uscc import complete
from shugu.review import detectors as det
from shugu.review.engine import Relation, local_relation
from shugu.review.scan import risk_grade, scan_relation


def resident_id(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, det.ID_WEIGHTS, strict=True))
    return first17 + det.ID_CHECK[total % 11]


def luhn_complete(body: str) -> str:
    for d in "0123456789":
        if det.luhn_valid(body + d):
            return body + d
    raise AssertionError


def wrong_last(value: str, alphabet: str = "0123456789") -> str:
    return value[:-1] + next(c for c in alphabet if c != value[-1])


def scan_columns(tmp_path: Path, **columns: list[Any]) -> dict[str, Any]:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table(columns), path)
    return scan_relation(Relation(f"read_parquet('{path}')", [str(path)]))["columns"]


def found(report: dict[str, Any], column: str, kind: str) -> dict[str, Any]:
    return report[column]["detections"].get(kind, {"matches": 0, "confirmed": False,
                                                   "samples": []})


def test_python_rules() -> None:
    assert det.resident_id_valid("11010519491231002X")
    assert det.resident_id_valid("11010519491231002x")
    assert not det.resident_id_valid("110105194912310021")  # check digit
    assert not det.resident_id_valid(resident_id("11010519490230002"))  # 30 February
    future = resident_id(f"110105{date.today().year + 1}0101002")
    assert not det.resident_id_valid(future)
    assert det.luhn_valid("4111111111111111") and det.luhn_valid("6222020200112345678") is False
    assert det.uscc_valid(complete("91330100MA2AAAAAA"))
    assert not det.uscc_valid(wrong_last(complete("91330100MA2AAAAAA")))


def test_id_cards_valid_and_invalid_check_digits(tmp_path: Path) -> None:
    good = [resident_id("33010619900101123"), resident_id("44030519851231567"),
            "11010519491231002X", "11010519491231002x"]
    bad = [wrong_last(g, "0123456789X") for g in good[:2]] + [
        resident_id("33010619900230123"),  # no 30 February
        resident_id(f"330106{date.today().year + 1}0101123")]  # born in the future
    report = scan_columns(tmp_path, 身份证号=good + bad + ["说明：身份证 " + good[0] + " 已核验"])
    hit = found(report, "身份证号", "id_card")
    assert hit["matches"] == len(good) + 1 and hit["confirmed"]
    assert hit["candidates"] == len(good) + len(bad) + 1


def test_bank_cards_by_luhn_and_not_as_id_cards(tmp_path: Path) -> None:
    rng = random.Random(1)
    good = [luhn_complete("62220202" + "".join(rng.choices("0123456789", k=10)))
            for _ in range(5)] + ["4111111111111111"]
    bad = [wrong_last(g) for g in good]
    # A Henan resident ID starts with 41 like a Visa card; valid as an ID, it is one.
    ident = resident_id("41010519900101123")
    report = scan_columns(tmp_path, card=good + bad + [ident])
    hit = found(report, "card", "bank_card")
    assert hit["matches"] == len(good) and hit["confirmed"]
    assert found(report, "card", "id_card")["matches"] == 1


def test_sql_checks_agree_with_python_rules(tmp_path: Path) -> None:
    rng = random.Random(7)
    ids = [resident_id(f"{rng.randint(110000, 659999)}{rng.randint(1930, 2015)}"
                       f"{rng.randint(1, 12):02d}{rng.randint(1, 31):02d}{rng.randint(0, 999):03d}")
           for _ in range(300)]
    ids = [i if rng.random() < 0.5 else wrong_last(i, "0123456789X") for i in ids]
    cards = ["".join(rng.choices("0123456789", k=rng.randint(15, 20))) for _ in range(600)]
    cards = ["62" + c[2:] if rng.random() < 0.5 else "4" + c[1:] for c in cards]
    codes = [complete(f"9133{rng.randint(0, 9999):04d}MA"
                      f"{''.join(rng.choices('0123456789ABCD', k=7))}") for _ in range(200)]
    codes = [c if rng.random() < 0.5 else wrong_last(c, "0123456789ABCDEFGHJ") for c in codes]
    size = max(len(ids), len(cards), len(codes))
    pad: list[str | None] = [None] * size
    report = scan_columns(tmp_path, a=(ids + pad)[:size], b=(cards + pad)[:size],
                          c=(codes + pad)[:size])
    assert found(report, "a", "id_card")["matches"] == sum(map(det.resident_id_valid, ids))
    expected_cards = sum(1 for c in cards if 16 <= len(c) <= 19 and det.luhn_valid(c)
                         and not det.resident_id_valid(c))
    assert found(report, "b", "bank_card")["matches"] == expected_cards
    assert found(report, "c", "uscc")["matches"] == sum(map(det.uscc_valid, codes))


def test_no_false_positives_on_random_digits(tmp_path: Path) -> None:
    rng = random.Random(3)
    # Numbers that fail their check digit are never reported...
    failing_ids = [wrong_last(resident_id(f"330106{rng.randint(1950, 2010)}0101{rng.randint(0, 9)}"
                                          f"{rng.randint(0, 99):02d}"), "0123456789X")
                   for _ in range(200)]
    failing_cards = []
    while len(failing_cards) < 200:
        c = "62" + "".join(rng.choices("0123456789", k=rng.randint(14, 17)))
        if not det.luhn_valid(c):
            failing_cards.append(c)
    # ...and digits of other lengths, amounts, timestamps and long runs are no candidates.
    noise = [str(rng.randint(10**5, 10**9)) for _ in range(100)] + \
        [f"{rng.randint(1, 99999)}.{rng.randint(0, 99):02d}" for _ in range(100)] + \
        ["".join(rng.choices("0123456789", k=25)) for _ in range(100)] + \
        [f"2024{rng.randint(10**9, 10**10 - 1)}" for _ in range(100)]  # 14-digit stamps
    report = scan_columns(tmp_path, ids=failing_ids, cards=failing_cards,
                          noise=noise[:200], more=noise[200:])
    assert found(report, "ids", "id_card")["matches"] == 0
    assert found(report, "cards", "bank_card")["matches"] == 0
    # (an ID-shaped number passes the USCC check one time in 31: counted, never confirmed)
    assert not any(v["confirmed"] for c in ("ids", "cards")
                   for v in report[c]["detections"].values())
    assert report["noise"]["detections"] == report["more"]["detections"] == {}
    # Random 16-19 digit numbers pass Luhn one time in ten: matches, but not confirmed.
    random_numbers = ["62" + "".join(rng.choices("0123456789", k=15)) for _ in range(500)]
    hit = found(scan_columns(tmp_path, amount_ref=random_numbers), "amount_ref", "bank_card")
    assert 0 < hit["matches"] < 100 and not hit["confirmed"]
    assert risk_grade({"t": {"columns": {"amount_ref": {"detections": {
        "bank_card": hit}}}}})[0] == "low"


def test_mobiles_emails_and_integer_columns(tmp_path: Path) -> None:
    report = scan_columns(
        tmp_path,
        contact=["13812345678", "电话:15912345678;", "+86 17700001111", "1381234567",
                 "23812345678", "138123456789"],
        phone_int=[13812345678, 12, None, 99999999999, None, None])
    report.update(scan_columns(tmp_path, mail=["a.b@example.com", "x@y",
                                               "联系 zhang.san@qq.com 谢谢", "not an email"]))
    assert found(report, "contact", "mobile")["matches"] == 3
    assert found(report, "mail", "email")["matches"] == 2
    assert found(report, "phone_int", "mobile")["matches"] == 1


def test_names_need_a_hint_or_a_majority(tmp_path: Path) -> None:
    names = ["张三", "欧阳娜娜", "李四光", "王芳"]
    report = scan_columns(tmp_path, 联系人=[*names, "杭州市", "某某公司"],
                          district=["江干区", "余杭区", "金融业", "上城区", "王府井店", "李"],
                          remarks=["王芳", "已核实", "数据正常", "请联系客服获取", "无", "正常"])
    hit = found(report, "联系人", "person_name")
    assert hit["matches"] == 4 and hit["confirmed"]
    assert found(report, "district", "person_name")["matches"] == 0
    remark = found(report, "remarks", "person_name")
    assert remark["matches"] == 1 and not remark["confirmed"]


def test_addresses(tmp_path: Path) -> None:
    report = scan_columns(tmp_path, addr=["浙江省杭州市西湖区文三路90号", "某某小区3幢201室",
                                         "浙江省杭州市", "西湖区", "国道"])
    assert found(report, "addr", "address")["matches"] == 2


def test_masked_samples_never_reveal_a_value(tmp_path: Path) -> None:
    values = {
        "id_card": resident_id("33010619900101123"),
        "mobile": "13812345678",
        "bank_card": "4111111111111111",
        "email": "zhang.san@example.com",
        "uscc": complete("91330100MA2AAAAAA"),
        "person_name": "欧阳娜娜",
        "address": "浙江省杭州市西湖区文三路90号",
    }
    assert det.mask("id_card", values["id_card"]) == "330106********" + values["id_card"][-4:]
    assert det.mask("mobile", "13812345678") == "138****5678"
    report = scan_columns(tmp_path, **{k: [v] for k, v in values.items()})
    for kind, value in values.items():
        samples = found(report, kind, kind)["samples"]
        assert samples, kind
        for sample in samples:
            assert value not in sample and sample != value
            revealed = sum(1 for ch in sample if ch != "*")
            assert "*" in sample and len(value) - revealed >= len(value) // 3, (kind, sample)


def test_local_relation_reads_csv_and_refuses_other_files(tmp_path: Path) -> None:
    csv = tmp_path / "people.csv"
    csv.write_text("name,phone\n张三,13812345678\n", encoding="utf-8")
    report = scan_relation(local_relation(csv))
    assert report["rows_scanned"] == 1
    assert found(report["columns"], "phone", "mobile")["matches"] == 1
    with pytest.raises(Exception, match="does not exist"):
        local_relation(tmp_path / "x.json")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(Exception, match="give a"):
        local_relation(tmp_path / "x.json")


def test_the_scan_opens_only_the_given_files(tmp_path: Path) -> None:
    allowed, other = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(pa.table({"x": ["1"]}), allowed)
    pq.write_table(pa.table({"x": ["13812345678"]}), other)
    sneaky = Relation(f"(SELECT * FROM read_parquet(['{allowed}', '{other}']))", [str(allowed)])
    with pytest.raises(Exception, match=r"Permission|disabled"):
        scan_relation(sneaky)


def test_progress_is_reported_and_ends_at_100(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"phone": ["13812345678"] * 1000}), path)
    seen: list[float] = []
    report = scan_relation(Relation(f"read_parquet('{path}')", [str(path)]),
                           progress=seen.append)
    assert seen and seen[-1] == 100.0 and all(0 <= p <= 100 for p in seen)
    assert found(report["columns"], "phone", "mobile")["matches"] == 1000
