// Staff console deal pages. Loaded as a file: the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";

  // <input type="checkbox" data-check-all="deal_ids">: tick or untick every enabled checkbox
  // of that name in the same form (the review queue's bulk approval).
  document.addEventListener("change", function (event) {
    var master = event.target;
    var name = master.getAttribute && master.getAttribute("data-check-all");
    if (!name || !master.form) {
      return;
    }
    var boxes = master.form.querySelectorAll('input[type="checkbox"][name="' + name + '"]');
    boxes.forEach(function (box) {
      if (!box.disabled) {
        box.checked = master.checked;
      }
    });
  });
})();
