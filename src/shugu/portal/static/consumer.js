// Consumer sandbox, progressive enhancement only: the page works without this file.
// - Ctrl/Cmd+Enter in the SQL box runs the query;
// - the run button is disabled while the query runs (no double submission);
// - clicking a column name in the rules tables inserts it into the SQL box;
// - "My tables": the upload form (hidden without script; the page then names the CLI) sends
//   the file as the raw body with XMLHttpRequest, upload.onprogress drives the <progress>,
//   the CSRF token goes in X-CSRF-Token; the server answers JSON.
(function () {
  "use strict";
  var form = document.getElementById("cons-sb-form");
  var sql = document.getElementById("cons-sb-sql");
  if (!form || !sql) { return; }
  var run = document.getElementById("cons-sb-run");
  form.addEventListener("submit", function () {
    if (run) { run.disabled = true; run.setAttribute("aria-busy", "true"); }
  });
  sql.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
    }
  });
  document.querySelectorAll("table.rules th[scope=row] code").forEach(function (code) {
    code.setAttribute("tabindex", "0");
    code.setAttribute("role", "button");
    function insert() {
      var start = sql.selectionStart, end = sql.selectionEnd, text = code.textContent;
      sql.value = sql.value.slice(0, start) + text + sql.value.slice(end);
      sql.focus();
      sql.selectionStart = sql.selectionEnd = start + text.length;
    }
    code.addEventListener("click", insert);
    code.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); insert(); }
    });
  });
})();

(function () {
  "use strict";
  var form = document.querySelector("form[data-cons-upload]");
  if (!form) { return; }
  var input = form.querySelector("input[type=file]");
  var name = form.querySelector("input[name=name]");
  var format = form.querySelector("select[name=format]");
  var bar = form.querySelector("progress");
  var status = form.querySelector("[role=status]");
  var button = form.querySelector("button[type=submit]");
  var token = form.querySelector("input[name=csrf_token]").value;

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : all;
    });
  }
  function progress(percent) {
    bar.value = percent;
    bar.textContent = percent + "%";
  }
  function finish(ok, text) {
    button.disabled = false;
    status.className = "cons-status alert " + (ok ? "good" : "bad");
    status.textContent = text + " ";
    var link = document.createElement("a");
    link.href = window.location.pathname + window.location.search + "#mine";
    link.textContent = form.dataset.reload;
    link.addEventListener("click", function (event) {  // same address: load it again
      event.preventDefault();
      window.location.hash = "mine";
      window.location.reload();
    });
    status.appendChild(link);
    form.dataset.result = ok ? "ok" : "failed";
  }

  form.hidden = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var file = input.files && input.files[0];
    if (!file) { input.focus(); return; }
    if (!name.checkValidity()) { name.reportValidity(); return; }
    var params = new URLSearchParams({name: name.value, format: format.value});
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action + "?" + params.toString());
    xhr.setRequestHeader("X-CSRF-Token", token);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { progress(Math.floor(e.loaded * 100 / e.total)); }
    };
    xhr.upload.onload = function () {
      progress(100);
      status.textContent = form.dataset.storing;
    };
    xhr.onload = function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (ignored) { body = null; }
      if (xhr.status >= 200 && xhr.status < 300 && body) {
        progress(100);
        finish(true, fill(form.dataset.done, body));
      } else {
        var err = (body && body.error) || {code: "http_" + xhr.status, message: xhr.statusText};
        finish(false, form.dataset.failed + ": " + err.code + " — " + err.message);
      }
    };
    xhr.onerror = function () { finish(false, form.dataset.failed); };
    button.disabled = true;
    form.dataset.result = "";
    status.className = "cons-status";
    status.textContent = form.dataset.sending;
    progress(0);
    xhr.send(file);
  });
})();
