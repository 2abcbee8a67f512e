// The upload page's progress display. Without JavaScript the form posts as usual and the
// result page says what happened. With it: the upload's progress in bytes, then "checking and
// importing" while the server runs the all-or-nothing import, then the result in the page.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) { return; }
  var box = document.getElementById("upload-progress");
  var bar = document.getElementById("upload-bar");
  var stage = document.getElementById("upload-stage");
  var status = document.getElementById("upload-status");
  var result = document.getElementById("upload-result");
  var button = document.getElementById("upload-button");
  var timer = null;

  function show(stageText, statusText) {
    stage.textContent = stageText;
    status.textContent = statusText;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var xhr = new XMLHttpRequest();
    var started = Date.now();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSP-Fragment", "result");
    box.hidden = false;
    button.disabled = true;
    result.innerHTML = "";
    bar.value = 0;
    bar.max = 100;
    show("Uploading", "Starting the upload…");
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { return; }
      bar.value = Math.round((100 * e.loaded) / e.total);
      show("Uploading", bar.value + "% of " + Math.max(1, Math.round(e.total / 1024)).toLocaleString("en-GB") + " KB sent");
    });
    xhr.upload.addEventListener("load", function () {
      bar.removeAttribute("value");  // indeterminate while the server imports
      show("Checking and importing", "Every row is checked first; nothing is stored unless all of them pass.");
      timer = window.setInterval(function () {
        var s = Math.round((Date.now() - started) / 1000);
        status.textContent = "Checking and importing: " + s + " seconds so far. Nothing is stored unless every row passes.";
      }, 1000);
    });
    xhr.addEventListener("loadend", function () {
      if (timer) { window.clearInterval(timer); }
      button.disabled = false;
      box.hidden = true;
      if (xhr.status === 0) {
        result.innerHTML = "";
        var p = document.createElement("p");
        p.className = "govuk-error-message";
        p.textContent = "The upload did not reach the server. Check the connection and try again.";
        result.appendChild(p);
      } else if (xhr.getResponseHeader("Content-Type") && xhr.getResponseHeader("Content-Type").indexOf("text/html") === 0 && xhr.status !== 403) {
        result.innerHTML = xhr.responseText;
      } else {
        result.textContent = "The server refused the upload (" + xhr.status + ").";
      }
      result.setAttribute("data-status", String(xhr.status));
      result.focus();
    });
    xhr.send(new FormData(form));
  });
})();
