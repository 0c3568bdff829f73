// In-page verification of a ledger event's inclusion proof (the auditor's event page).
//
// Recomputes, with WebCrypto and nothing from the server taken on trust:
//   1. the commitment: SHA-256 of the canonical JSON {"actor","payload","salt","subject"}
//      of the opening (payload as its canonical text) — shugu.ledger.events.commitment;
//      for version-1 events, the payload hash: SHA-256 of the payload's canonical text;
//   2. the RFC 6962 leaf hash: SHA-256(0x00 || leaf data), the leaf data being the canonical
//      JSON {"action","commitment","seq","subject" (public),"ts"} (sorted keys, no spaces,
//      UTF-8) — shugu.ledger.events.leaf_data_v2; for version 1
//      {"action","actor","payload_sha256","seq","subject","ts"} — leaf_data;
//   3. the root from the audit path (RFC 9162 §2.1.3.2, interior nodes SHA-256(0x01||l||r)),
//      compared with the signed tree head's root — shugu.ledger.proofs.verify_inclusion;
//   4. the Ed25519 signature of the tree head over
//      "shugu-sth/1\n<size>\n<root hex>\n<timestamp>" — shugu.ledger.events.sth_message.
// crypto.subtle exists only in secure contexts (https, localhost); without it the page says
// how to check offline with the CLI.
(function () {
  "use strict";

  var dataEl = document.getElementById("proof-data");
  if (!dataEl) return;
  var data = JSON.parse(dataEl.textContent);
  var text = JSON.parse(document.getElementById("proof-text").textContent);
  var subtle = window.crypto && window.crypto.subtle;
  if (!subtle || !window.TextEncoder || !window.fetch) {
    document.getElementById("no-crypto").hidden = false;
    return;
  }
  document.getElementById("verifier").hidden = false;
  var enc = new TextEncoder();

  function hex(bytes) {
    return Array.prototype.map.call(new Uint8Array(bytes), function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
  }
  function unhex(h) {
    if (typeof h !== "string" || !/^(?:[0-9a-f]{2})*$/i.test(h)) throw new Error("not hex: " + h);
    var out = new Uint8Array(h.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(h.substr(i * 2, 2), 16);
    return out;
  }
  function unbase64(s) {
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function concat(parts) {
    var n = 0, i;
    for (i = 0; i < parts.length; i++) n += parts[i].length;
    var out = new Uint8Array(n), at = 0;
    for (i = 0; i < parts.length; i++) { out.set(parts[i], at); at += parts[i].length; }
    return out;
  }
  async function sha256(bytes) {
    return new Uint8Array(await subtle.digest("SHA-256", bytes));
  }
  function leafHash(leafData) { return sha256(concat([new Uint8Array([0]), leafData])); }
  function nodeHash(l, r) { return sha256(concat([new Uint8Array([1]), l, r])); }

  // JSON.stringify escapes strings exactly as Python's json (ensure_ascii=False) does:
  // ", \, and the control characters (\b \f \n \r \t short, the others as \u00xx).
  function leafData(e) {
    var s = JSON.stringify;
    if (!Number.isSafeInteger(e.seq)) throw new Error("seq is not an integer");
    if (e.commitment) {
      return enc.encode('{"action":' + s(e.action) + ',"commitment":' + s(e.commitment) +
        ',"seq":' + String(e.seq) + ',"subject":' + s(e.subject) + ',"ts":' + s(e.ts) + "}");
    }
    var o = e.opening;
    return enc.encode('{"action":' + s(e.action) + ',"actor":' + s(o.actor) +
      ',"payload_sha256":' + s(o.payload_sha256) + ',"seq":' + String(e.seq) +
      ',"subject":' + s(o.subject) + ',"ts":' + s(e.ts) + "}");
  }
  function commitmentData(o) {
    var s = JSON.stringify;
    return enc.encode('{"actor":' + s(o.actor) + ',"payload":' + s(o.payload_json) +
      ',"salt":' + s(o.salt) + ',"subject":' + s(o.subject) + "}");
  }

  // RFC 9162 §2.1.3.2, as shugu.ledger.proofs.verify_inclusion (plain arithmetic, no 32-bit
  // bitwise operators, so sizes past 2^31 work too).
  async function rootFromPath(leaf, index, size, path) {
    if (!(index >= 0 && index < size)) return null;
    var fn = index, sn = size - 1, r = leaf;
    for (var i = 0; i < path.length; i++) {
      var p = unhex(path[i]);
      if (sn === 0) return null;
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;
  }

  function sthMessage(sth) {
    return enc.encode("shugu-sth/1\n" + String(sth.size) + "\n" + sth.root + "\n" + sth.timestamp);
  }

  async function verifySignature(sth) {
    var key;
    try {
      key = await subtle.importKey("raw", unbase64(sth.public_key), { name: "Ed25519" }, false,
                                  ["verify"]);
    } catch (err) {
      return { ok: null, detail: text.unsupported };
    }
    var ok = await subtle.verify({ name: "Ed25519" }, key, unbase64(sth.signature), sthMessage(sth));
    return { ok: ok, detail: "key " + sth.key_id };
  }

  // Every check as {ok: true | false | null (cannot be checked here), detail}.
  async function check(event, proof, sth) {
    var out = {};
    if (event.commitment) {
      var commit = hex(await sha256(commitmentData(event.opening)));
      out.payload = { ok: commit === event.commitment, detail: commit };
    } else {
      var payloadHash = hex(await sha256(enc.encode(event.opening.payload_json)));
      out.payload = { ok: payloadHash === event.opening.payload_sha256, detail: payloadHash };
    }
    var leaf = await leafHash(leafData(event));
    out.leaf = { ok: hex(leaf) === proof.leaf_hash && hex(leaf) === data.leaf_hash,
                 detail: hex(leaf) };
    var root = null;
    try {
      root = proof.seq === event.seq && proof.tree_size === sth.size
        ? await rootFromPath(leaf, event.seq, sth.size, proof.audit_path) : null;
    } catch (err) {
      root = null;
    }
    out.root = { ok: root !== null && hex(root) === sth.root,
                 detail: (root ? hex(root) : "—") + " / " + sth.root + " (" + sth.size + ")" };
    try {
      out.signature = await verifySignature(sth);
    } catch (err) {
      out.signature = { ok: false, detail: String(err) };
    }
    return out;
  }

  function render(results) {
    var allOk = true;
    Object.keys(results).forEach(function (name) {
      var r = results[name];
      var li = document.querySelector('#checks li[data-check="' + name + '"]');
      if (!li) return;
      li.querySelector(".mark").textContent = r.ok === true ? "✓" : r.ok === false ? "✗" : "?";
      li.querySelector(".mark").setAttribute("aria-label",
        r.ok === true ? text.ok : r.ok === false ? text.bad : text.unsupported);
      li.querySelector(".detail").textContent = r.detail || "";
      li.className = r.ok === true ? "good" : r.ok === false ? "bad" : "warn";
      if (r.ok !== true) allOk = false;
    });
    var verdict = document.getElementById("verdict");
    verdict.textContent = allOk ? text.all_ok : text.some_bad;
    verdict.className = "alert " + (allOk ? "good" : "bad");
  }

  async function getJSON(url) {
    var response = await fetch(url, { credentials: "same-origin",
                                      headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(url + ": HTTP " + response.status);
    return response.json();
  }

  var api = { last: null, check: check, render: render, leafData: leafData };

  async function run() {
    var verdict = document.getElementById("verdict");
    try {
      var sth = await getJSON(data.tree_head_url);
      var proof = await getJSON(data.inclusion_url + "?tree_size=" + encodeURIComponent(sth.size));
      api.last = { event: data.event, proof: proof, sth: sth };
      render(await check(data.event, proof, sth));
    } catch (err) {
      verdict.textContent = text.error + " " + String(err);
      verdict.className = "alert bad";
    }
  }
  api.run = run;
  window.shuguAuditor = api;

  document.getElementById("reverify").addEventListener("click", run);
  run();
})();

// The file pickers of the certificate and voucher verifiers: read the chosen file into the
// textarea (without script, paste its text there).
(function () {
  "use strict";
  var pickers = document.querySelectorAll("input[type=file][data-into]");
  Array.prototype.forEach.call(pickers, function (input) {
    input.hidden = false;
    var label = document.querySelector('label[for="' + input.id + '"]');
    if (label) label.hidden = false;
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) return;
      file.text().then(function (content) {
        document.getElementById(input.getAttribute("data-into")).value = content;
      });
    });
  });
})();
