// pipetrack dashboard: local times and live updates. No dependencies.
// The server renders every fragment; this script only swaps them in.
"use strict";

(function () {
  function pad(n) { return String(n).padStart(2, "0"); }

  function localTime(date, seconds) {
    var text = date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      " " + pad(date.getHours()) + ":" + pad(date.getMinutes());
    return seconds ? text + ":" + pad(date.getSeconds()) : text;
  }

  // <time datetime="..."> shows UTC from the server; show the reader's local time instead.
  function localise(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) { return; }
      if (el.hasAttribute("title")) {
        el.title = localTime(date, false);
      } else if (/UTC$/.test(el.textContent)) {
        el.textContent = localTime(date, /:\d\d:\d\d/.test(el.textContent));
      }
    });
  }

  function banner(message) {
    var el = document.getElementById("banner");
    if (!el) { return; }
    el.textContent = message || "";
    el.hidden = !message;
  }

  function say(message) {
    var el = document.getElementById("live-state");
    if (el) { el.textContent = message; }
  }

  function swap(container, html) {
    // Keep what the reader opened and where the keyboard focus was.
    var open = Array.prototype.map.call(container.querySelectorAll("details[open][id]"), function (d) { return d.id; });
    var focused = document.activeElement && container.contains(document.activeElement) ? document.activeElement : null;
    var focusKey = focused ? (focused.id || focused.getAttribute("href")) : null;
    container.innerHTML = html;
    open.forEach(function (id) {
      var d = document.getElementById(id);
      if (d) { d.open = true; }
    });
    if (focusKey) {
      var again = document.getElementById(focusKey) ||
        container.querySelector('[href="' + focusKey.replace(/"/g, '\\"') + '"]');
      if (again) { again.focus(); }
    }
    localise(container);
  }

  function follow(container) {
    if (!window.EventSource) {
      say("Live updates need a newer browser: reload to refresh.");
      return;
    }
    var source = new EventSource(container.getAttribute("data-live"));
    var stamp = function () { return localTime(new Date(), true).slice(11); };
    source.addEventListener("update", function (e) {
      swap(container, e.data);
      banner("");
      say("Updated " + stamp() + ".");
    });
    source.addEventListener("done", function (e) {
      swap(container, e.data);
      banner("");
      say("The run has finished.");
      source.close();
    });
    source.addEventListener("failure", function (e) {
      banner(e.data);
      say("The store is not answering; retrying.");
    });
    source.onerror = function () {
      if (source.readyState !== EventSource.CLOSED) { say("Connection lost; reconnecting…"); }
    };
  }

  // A page that failed because the store did not answer reloads itself.
  function retry(el) {
    var left = parseInt(el.getAttribute("data-retry"), 10);
    if (!(left > 0)) { return; }
    var tick = function () {
      left -= 1;
      if (left <= 0) {
        el.textContent = "Trying again now…";
        window.location.reload();
        return;
      }
      el.textContent = "Trying again in " + left + " s.";
      window.setTimeout(tick, 1000);
    };
    window.setTimeout(tick, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    localise(document);
    document.querySelectorAll("[data-live]").forEach(follow);
    document.querySelectorAll("[data-retry]").forEach(retry);
  });
})();
