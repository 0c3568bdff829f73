/* shugu portal, provider pages: uploads with a progress bar.
   A form marked data-upload is hidden until this script runs (without JavaScript the page
   says to use the command line instead). The chosen file is sent as the raw request body
   with XMLHttpRequest, whose upload.onprogress drives the <progress> element; the CSRF
   token goes in the X-CSRF-Token header. The server answers JSON. */
(function () {
  "use strict";

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : all;
    });
  }

  function setProgress(bar, percent) {
    bar.value = percent;
    bar.textContent = percent + "%";
    bar.setAttribute("aria-valuenow", String(percent));
  }

  function reloadLink(form, status) {
    var link = document.createElement("a");
    link.href = window.location.pathname;
    link.textContent = form.dataset.reload;
    link.className = "prov-reload";
    status.appendChild(document.createTextNode(" "));
    status.appendChild(link);
  }

  function send(form) {
    var input = form.querySelector("input[type=file]");
    var bar = form.querySelector("progress");
    var status = form.querySelector("[role=status]");
    var button = form.querySelector("button[type=submit]");
    var token = form.querySelector("input[name=csrf_token]").value;
    var file = input.files && input.files[0];
    if (!file) { input.focus(); return; }

    var params = new URLSearchParams();
    form.querySelectorAll("select").forEach(function (s) { params.set(s.name, s.value); });
    params.set(form.dataset.filenameParam || "filename", file.name);

    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action + "?" + params.toString());
    xhr.setRequestHeader("X-CSRF-Token", token);
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) setProgress(bar, Math.floor(e.loaded * 100 / e.total));
    };
    xhr.upload.onload = function () {
      setProgress(bar, 100);
      status.textContent = form.dataset.ingesting;
    };
    xhr.onload = function () {
      button.disabled = false;
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (ignored) { body = null; }
      if (xhr.status >= 200 && xhr.status < 300 && body) {
        setProgress(bar, 100);
        status.className = "prov-status alert good";
        status.textContent = fill(form.dataset.done, body);
        form.dataset.result = "ok";
      } else {
        var err = (body && body.error) || {code: "http_" + xhr.status, message: xhr.statusText};
        status.className = "prov-status alert bad";
        status.textContent = form.dataset.failed + ": " + err.code + " — " + err.message;
        form.dataset.result = "failed";
      }
      reloadLink(form, status);
    };
    xhr.onerror = function () {
      button.disabled = false;
      status.className = "prov-status alert bad";
      status.textContent = form.dataset.failed;
      form.dataset.result = "failed";
    };
    button.disabled = true;
    form.dataset.result = "";
    status.className = "prov-status";
    status.textContent = form.dataset.sending;
    setProgress(bar, 0);
    xhr.send(file);
  }

  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    form.hidden = false;
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      send(form);
    });
  });
})();
