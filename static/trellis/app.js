// Trellis page behaviour. Loaded as a file: the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";

  // <form data-confirm="Revoke …?">: ask before submitting a destructive action.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // <button data-copy="#selector">: copy the text of the element (a new API token).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button || !navigator.clipboard) {
      return;
    }
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      var label = button.getAttribute("data-copied-label");
      if (label) {
        button.textContent = label;
      }
    });
  });
})();
