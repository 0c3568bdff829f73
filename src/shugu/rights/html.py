"""The printable certificate: one bilingual HTML page with print CSS (print it to PDF)."""

from __future__ import annotations

import json

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from shugu.rights import schemas

_TEMPLATE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{{ c.title.zh }} {{ c.number }}</title>
<style>
  body { font-family: "Noto Serif CJK SC", "Songti SC", serif; margin: 0; background: #eee; }
  .sheet { width: 210mm; min-height: 297mm; margin: 10mm auto; padding: 18mm 20mm;
           box-sizing: border-box; background: #fff; border: 3px double #8b0000; }
  h1 { text-align: center; color: #8b0000; margin: 0 0 2mm; letter-spacing: .3em; }
  .en { text-align: center; color: #555; margin: 0 0 8mm; font-size: 11pt; }
  .status { text-align: center; font-weight: bold; margin-bottom: 6mm; }
  table { width: 100%; border-collapse: collapse; font-size: 11pt; }
  th { text-align: left; width: 34%; vertical-align: top; padding: 2mm; color: #333; }
  td { padding: 2mm; word-break: break-all; }
  tr { border-bottom: 1px solid #ddd; }
  .mono { font-family: "DejaVu Sans Mono", monospace; font-size: 9pt; }
  .foot { margin-top: 8mm; font-size: 9pt; color: #555; }
  @media print {
    body { background: none; }
    .sheet { margin: 0; border: 3px double #8b0000; width: auto; min-height: auto; }
    @page { size: A4; margin: 10mm; }
  }
</style>
</head>
<body>
<div class="sheet">
<h1>{{ c.title.zh }}</h1>
<p class="en">{{ c.title.en }}</p>
<p class="status">状态 Status: {{ status }}</p>
<table>
<tr><th>证书编号 Number</th><td>{{ c.number }}</td></tr>
<tr><th>权利人 Holder</th>
  <td>{{ c.holder.name }}<br>统一社会信用代码 USCC: {{ c.holder.uscc }}</td></tr>
<tr><th>登记权利 Rights</th>
  <td>{% for r in c.rights %}{{ r.zh }} ({{ r.en }})<br>{% endfor %}</td></tr>
<tr><th>数据名称 Data</th><td>{{ c.data_name }}</td></tr>
<tr><th>数据产品 Product</th>
  <td>{{ c.product.title_zh }}{% if c.product.title_en %} / {{ c.product.title_en }}{% endif %}
  ({{ c.product.slug }})</td></tr>
<tr><th>版本 Revision</th><td>{{ c.revision.number }} {{ c.revision.name }}</td></tr>
<tr><th>存证指纹 Fingerprint</th>
  <td class="mono">{{ c.fingerprint.root }}<br>{{ c.fingerprint.algorithm }},
  {{ c.fingerprint.file_count }} files, {{ c.fingerprint.total_bytes }} bytes</td></tr>
{% if c.data_source.kind %}<tr><th>数据来源 Source</th>
  <td>{{ source_label }}{% if c.data_source.description %}:
  {{ c.data_source.description }}{% endif %}</td></tr>{% endif %}
{% if c.scenario %}<tr><th>应用场景 Scenario</th><td>{{ c.scenario }}</td></tr>{% endif %}
{% if c.update_period %}<tr><th>更新周期 Update period</th>
  <td>{{ c.update_period }}</td></tr>{% endif %}
<tr><th>登记类型 Registration</th>
  <td>{{ c.registration.kind }} #{{ c.registration.id }}</td></tr>
{% if c.previous_number %}<tr><th>原证书 Replaces</th>
  <td>{{ c.previous_number }}</td></tr>{% endif %}
<tr><th>发证日期 Issued</th><td>{{ c.issued_at }}</td></tr>
<tr><th>有效期至 Valid until</th><td>{{ c.valid_until }}</td></tr>
<tr><th>发证机构 Issuer</th><td>{{ c.issuer.name }} ({{ c.issuer.uscc }})</td></tr>
<tr><th>签名 Signature (Ed25519)</th>
  <td class="mono">key {{ sig.key_id }}<br>{{ sig.value }}</td></tr>
</table>
<p class="foot">本证书以平台 Ed25519 密钥对其内容的规范 JSON 签名；
用 <code>shugu cert verify</code> 离线核验，
当前状态见 /api/v1/public/certificates/{{ c.number }}。<br>
The platform's Ed25519 key signs the canonical JSON of this content; verify the downloaded
JSON offline with <code>shugu cert verify</code>; the current status is at
/api/v1/public/certificates/{{ c.number }}.</p>
<script type="application/json" id="certificate">{{ file_json }}</script>
</div>
</body>
</html>
"""

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_template = _env.from_string(_TEMPLATE)
_SOURCES = {"self_collected": "自行采集 self-collected", "acquired": "外部获取 acquired"}


def render(file: schemas.CertificateFile, status: str) -> str:
    c = file.certificate
    # Inside <script>, "</" would end the element; JSON allows escaping the slash.
    file_json = json.dumps(file.model_dump(mode="json"), ensure_ascii=False).replace("</", "<\\/")
    return _template.render(c=c, sig=file.signature, status=status,
                            source_label=_SOURCES.get(c.get("data_source", {}).get("kind"), ""),
                            file_json=Markup(file_json))

