// paperfeed: upvotes without a reload, a self-submitting date picker, copy buttons.
// Everything works without this file; it only makes it smoother.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function setVoteState(paperId, voted, count) {
    document.querySelectorAll('.vote-button[data-paper-id="' + paperId + '"]').forEach(function (button) {
      button.classList.toggle("voted", voted);
      button.setAttribute("aria-pressed", voted ? "true" : "false");
      button.querySelector(".vote-count").textContent = String(count);
      var action = button.form && button.form.querySelector('input[name="action"]');
      if (action) action.value = voted ? "remove" : "add";
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("vote-form")) return;
    event.preventDefault();
    var button = form.querySelector(".vote-button");
    var paperId = button.getAttribute("data-paper-id");
    var voted = button.getAttribute("aria-pressed") === "true";
    button.disabled = true;
    fetch("/api/papers/" + encodeURIComponent(paperId) + "/vote", {
      method: voted ? "DELETE" : "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), "Accept": "application/json" }
    }).then(function (response) {
      if (response.status === 401) {
        window.location.href = "/signin?next=" + encodeURIComponent(window.location.pathname + window.location.search);
        return null;
      }
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body && body.error ? body.error.message : "vote failed");
        setVoteState(paperId, body.voted, body.upvotes);
      });
    }).catch(function (error) {
      window.alert("Could not record the vote: " + error.message);
    }).finally(function () {
      button.disabled = false;
    });
  });

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.classList && input.classList.contains("auto-submit") && input.value) input.form.submit();
  });

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      navigator.clipboard.writeText(source.textContent).then(function () {
        button.textContent = "Copied";
      });
    });
  });
})();
