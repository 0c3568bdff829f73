// Consumer sandbox, progressive enhancement only: the page works without this file.
// - Ctrl/Cmd+Enter in the SQL box runs the query;
// - the run button is disabled while the query runs (no double submission);
// - clicking a column name in the rules tables inserts it into the SQL box.
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
