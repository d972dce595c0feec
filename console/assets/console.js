// The console's one script: live updates of an open ticket and of the
// ticket list, and older timeline entries on demand. Pages work without
// it; it only spares reloads. No inline scripts (the CSP forbids them).
(function () {
  "use strict";
  var HEADERS = { "X-Requested-With": "console" };
  var TICKET_POLL_MS = 2000;
  var LIST_POLL_MS = 5000;

  function get(url) {
    return fetch(url, { headers: HEADERS, credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (r.status === 401) {
        window.location.assign("/signin?next=" + encodeURIComponent(window.location.pathname + window.location.search));
        throw new Error("signed out");
      }
      return r;
    });
  }

  function parse(html) {
    return new DOMParser().parseFromString(html, "text/html");
  }

  function swap(doc, name) {
    var fresh = doc.querySelector('[data-live="' + name + '"]');
    var old = document.querySelector('[data-live="' + name + '"]');
    if (fresh && old) {
      old.replaceWith(document.importNode(fresh, true));
    }
  }

  function every(ms, fn) {
    var busy = false;
    window.setInterval(function () {
      if (busy || document.hidden) return;
      busy = true;
      fn().catch(function () {}).then(function () { busy = false; });
    }, ms);
  }

  // An open ticket: when its version moves, the new entries, the state,
  // the SLA timers and (unless the agent is editing them) the fields.
  function liveTicket(main) {
    var key = main.getAttribute("data-ticket");
    var note = document.querySelector("[data-live-note]");
    var dirty = false;
    document.addEventListener("input", function (e) {
      if (e.target.closest && e.target.closest("[data-fields]")) dirty = true;
    });
    document.addEventListener("change", function (e) {
      if (e.target.closest && e.target.closest("[data-fields]")) dirty = true;
    });
    every(TICKET_POLL_MS, function () {
      return get("/tickets/" + encodeURIComponent(key) + "/state").then(function (r) {
        if (!r.ok) return null;
        return r.json();
      }).then(function (state) {
        if (!state || String(state.version) === main.getAttribute("data-version")) return null;
        return get(window.location.pathname).then(function (r) { return r.text(); }).then(function (html) {
          var doc = parse(html);
          var freshMain = doc.querySelector("main[data-ticket]");
          if (!freshMain) return;
          swap(doc, "summary");
          swap(doc, "timers");
          if (!dirty) {
            swap(doc, "fields");
          }
          addNewEntries(doc);
          main.setAttribute("data-version", freshMain.getAttribute("data-version"));
          if (note) {
            note.hidden = false;
            note.textContent = dirty
              ? "This ticket changed while you were editing its fields. Saving will tell you what changed; nothing is overwritten."
              : "Updated just now.";
          }
        });
      });
    });
  }

  function addNewEntries(doc) {
    var list = document.querySelector('[data-live="timeline"]');
    var fresh = doc.querySelector('[data-live="timeline"]');
    if (!list || !fresh) return;
    var items = Array.prototype.slice.call(fresh.querySelectorAll("li.entry"));
    var anchor = list.firstElementChild;
    items.forEach(function (item) {
      if (!document.getElementById(item.id)) {
        var node = document.importNode(item, true);
        node.classList.add("new");
        list.insertBefore(node, anchor);
      }
    });
  }

  // A list: the rows and the side bar's counts, refreshed in place.
  function liveList(main) {
    var url = main.getAttribute("data-poll");
    every(LIST_POLL_MS, function () {
      var active = document.activeElement;
      if (active && active.closest && active.closest("form")) return Promise.resolve();
      return get(url).then(function (r) { return r.text(); }).then(function (html) {
        var doc = parse(html);
        swap(doc, "list");
        swap(doc, "sidebar");
      });
    });
  }

  // "Show older entries": the next page of the timeline, in place.
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a[data-older]");
    if (!link) return;
    e.preventDefault();
    var item = link.closest("li");
    get(link.getAttribute("href")).then(function (r) { return r.text(); }).then(function (html) {
      var doc = parse("<ol>" + html + "</ol>");
      var nodes = Array.prototype.slice.call(doc.querySelectorAll("ol > li"));
      var first = null;
      nodes.forEach(function (node) {
        var added = document.importNode(node, true);
        item.parentNode.insertBefore(added, item);
        if (!first && added.classList.contains("entry")) first = added;
      });
      item.remove();
      // The keyboard goes on where the older entries begin.
      if (first) {
        first.setAttribute("tabindex", "-1");
        first.focus();
      }
    }).catch(function () {});
  });

  document.addEventListener("DOMContentLoaded", function () {
    var ticket = document.querySelector("main[data-ticket]");
    if (ticket) liveTicket(ticket);
    var list = document.querySelector("main[data-poll]");
    if (list) liveList(list);
  });
})();
