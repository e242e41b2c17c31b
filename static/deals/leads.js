// Lead pages: a live countdown of the time left to answer an offered lead. Loaded as a file:
// the Content-Security-Policy forbids inline scripts. The server renders the same text, so the
// page reads the same without JavaScript.
(function () {
  "use strict";

  var URGENT_MS = 4 * 60 * 60 * 1000;
  var lang = document.documentElement.lang || undefined;
  var format = window.Intl && Intl.NumberFormat
    ? function (value, unit) {
        return new Intl.NumberFormat(lang, { style: "unit", unit: unit, unitDisplay: "long" }).format(value);
      }
    : function (value, unit) {
        return value + " " + unit + (value === 1 ? "" : "s");
      };

  function describe(ms) {
    var minutes = Math.floor(ms / 60000);
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var parts = [];
    if (days) {
      parts.push(format(days, "day"));
    }
    if (hours) {
      parts.push(format(hours, "hour"));
    }
    if (!days) {
      parts.push(format(minutes % 60, "minute"));
    }
    return parts.slice(0, 2).join(" ");
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (element) {
      var left = Date.parse(element.getAttribute("datetime")) - now;
      if (isNaN(left)) {
        return;
      }
      if (left <= 0) {
        element.textContent = element.getAttribute("data-expired-label") || "";
        element.classList.add("is-over");
        return;
      }
      element.textContent = describe(left);
      element.classList.toggle("is-urgent", left < URGENT_MS);
    });
  }

  document.addEventListener("DOMContentLoaded", tick);
  window.setInterval(tick, 30000);
})();
