// Smarketing's one script. Everything works without it; it only makes
// waiting easier: SLA countdowns tick between the server's refreshes (the
// server computes working time; the minute tick is only a guess until the
// next refresh), and instants are shown in the viewer's own time zone.
"use strict";
(function () {
  function words(seconds) {
    var m = Math.floor(Math.abs(seconds) / 60);
    var h = Math.floor(m / 60);
    m = m % 60;
    if (h === 0 && m === 0) return "under a minute";
    if (h === 0) return m + " min";
    return h + " h " + (m < 10 ? "0" : "") + m + " min";
  }
  function tick() {
    document.querySelectorAll("[data-left-seconds][data-running='true']").forEach(function (el) {
      var left = parseInt(el.getAttribute("data-left-seconds"), 10) - 60;
      el.setAttribute("data-left-seconds", String(left));
      el.textContent = left >= 0
        ? words(left) + " of working time left"
        : "over by " + words(left) + " of working time";
    });
  }
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d.getTime())) {
        el.textContent = d.toLocaleString(undefined, {
          weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short"
        });
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  document.addEventListener("htmx:afterSwap", function (e) { localTimes(e.target); });
  setInterval(tick, 60000);
})();
