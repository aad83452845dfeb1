// paperfeed admin: the import runs table follows a running import's counts.
// It asks /admin/imports.json every few seconds while a run is running and stops
// when none is; without this file the counts show on each reload.
(function () {
  "use strict";
  var table = document.getElementById("import-runs");
  if (!table || !window.fetch) return;
  var note = document.getElementById("import-progress-note");
  var FIELDS = ["status", "finished", "read", "new", "merged", "rejected", "message"];

  function running() {
    return table.querySelector("tr.run-running") !== null;
  }

  function update(run) {
    var row = table.querySelector('tr[data-run-id="' + run.id + '"]');
    if (!row) return false;
    FIELDS.forEach(function (name) {
      var cell = row.querySelector('[data-field="' + name + '"]');
      var value = name === "finished" ? (run.finished || "…") : String(run[name]);
      if (cell && cell.textContent !== value) cell.textContent = value;
    });
    row.className = "run-" + run.status;
    return true;
  }

  function poll() {
    fetch(table.getAttribute("data-progress"), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok) throw new Error("status " + response.status);
      return response.json();
    }).then(function (body) {
      var unknown = body.runs.some(function (run) { return !update(run); });
      if (unknown && body.running) {
        // A run that started after this page was drawn: draw the page again.
        window.location.reload();
        return;
      }
      table.setAttribute("data-polled", String(Date.now()));
      if (body.running || running()) {
        window.setTimeout(poll, (body.poll_seconds || 2) * 1000);
      } else if (note) {
        note.textContent = "No import is running.";
      }
    }).catch(function () {
      window.setTimeout(poll, 10000); // the server is restarting, or the network is away
    });
  }

  if (running()) window.setTimeout(poll, 1000);
})();
