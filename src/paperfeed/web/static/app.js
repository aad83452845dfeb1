// paperfeed: upvotes and saves without a reload, the phone menu, the theme toggle,
// keyboard shortcuts, a self-submitting date picker and copy buttons.
// Everything works without this file; it only makes it smoother.
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  // Served under a sub-path (PAPERFEED_ROOT_PATH): every URL this file makes starts with it.
  var ROOT = root.getAttribute("data-root") || "";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // This page's own path, without ROOT (the server adds it to every redirect).
  function here() {
    var path = window.location.pathname;
    if (ROOT && path.indexOf(ROOT) === 0) path = path.slice(ROOT.length) || "/";
    return path + window.location.search;
  }

  // One JSON call to the API; 401 sends the visitor to sign in and come back.
  function callApi(method, url) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), "Accept": "application/json" }
    }).then(function (response) {
      if (response.status === 401) {
        window.location.href = ROOT + "/signin?next=" + encodeURIComponent(here());
        return null;
      }
      return response.json().catch(function () { return null; }).then(function (body) {
        if (!response.ok) {
          throw new Error(body && body.error ? body.error.message : "the server answered " + response.status);
        }
        return body;
      });
    });
  }

  // Errors are shown next to the button that failed (role=alert reads them out), never in a dialog.
  function showError(anchor, text) {
    var holder = anchor.closest(".paper-card, .paper-header, .pf-actions") || anchor.parentNode;
    if (holder.querySelector(".card-body")) holder = holder.querySelector(".card-body");
    var box = holder.querySelector(".inline-error");
    if (!box) {
      box = document.createElement("p");
      box.className = "inline-error";
      box.setAttribute("role", "alert");
      holder.appendChild(box);
    }
    box.textContent = text;
  }

  function clearError(anchor) {
    var holder = anchor.closest(".paper-card, .paper-header, .pf-actions");
    var box = holder && holder.querySelector(".inline-error");
    if (box) box.remove();
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

  function setSavedState(paperId, saved) {
    document.querySelectorAll('.pf-actions[data-paper-id="' + paperId + '"] .save-button').forEach(function (button) {
      button.classList.toggle("pf-saved", saved);
      button.classList.toggle("button-ghost", !saved);
      button.setAttribute("aria-pressed", saved ? "true" : "false");
      button.textContent = saved ? "★ Saved" : "☆ Save";
      var action = button.form.querySelector('input[name="action"]');
      if (action) action.value = saved ? "unsave" : "save";
    });
  }

  function vote(form) {
    var button = form.querySelector(".vote-button");
    var paperId = button.getAttribute("data-paper-id");
    var voted = button.getAttribute("aria-pressed") === "true";
    button.disabled = true;
    callApi(voted ? "DELETE" : "POST", ROOT + "/api/papers/" + encodeURIComponent(paperId) + "/vote").then(function (body) {
      if (!body) return;
      clearError(button);
      setVoteState(paperId, body.voted, body.upvotes);
    }).catch(function (error) {
      showError(button, "Could not record the vote: " + error.message);
    }).finally(function () {
      button.disabled = false;
    });
  }

  function save(form) {
    var button = form.querySelector(".save-button");
    var paperId = form.closest(".pf-actions").getAttribute("data-paper-id");
    var saved = button.getAttribute("aria-pressed") === "true";
    button.disabled = true;
    callApi(saved ? "DELETE" : "POST", ROOT + "/api/library/" + encodeURIComponent(paperId)).then(function (body) {
      if (!body) return;
      clearError(button);
      setSavedState(paperId, body.saved);
    }).catch(function (error) {
      showError(button, "Could not save: " + error.message);
    }).finally(function () {
      button.disabled = false;
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList) return;
    if (form.classList.contains("vote-form")) {
      event.preventDefault();
      vote(form);
    } else if (form.classList.contains("save-form")) {
      event.preventDefault();
      save(form);
    }
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
      navigator.clipboard.writeText(source.value || source.textContent).then(function () {
        button.textContent = "Copied";
      });
    });
  });

  // The phone menu: the header's links fold behind one button below 760 px.
  var toggle = document.getElementById("nav-toggle");
  var menu = document.getElementById("site-menu");
  if (toggle && menu) {
    toggle.addEventListener("click", function () {
      var open = menu.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // Light or dark: the system's choice until the toggle is used, then the toggle's (per browser).
  var themeButton = document.getElementById("theme-toggle");
  var darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  function currentTheme() {
    return root.getAttribute("data-theme") || (darkQuery && darkQuery.matches ? "dark" : "light");
  }
  function labelTheme() {
    var next = currentTheme() === "dark" ? "Light" : "Dark";
    themeButton.querySelector(".theme-name").textContent = next;
    themeButton.setAttribute("aria-label", "Switch to the " + next.toLowerCase() + " theme");
  }
  if (themeButton) {
    labelTheme();
    themeButton.addEventListener("click", function () {
      var next = currentTheme() === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { window.localStorage.setItem("pf-theme", next); } catch (e) { /* not remembered */ }
      labelTheme();
    });
  }

  // Keyboard: / search, j / k next and previous paper, s save, u upvote (listed on /about).
  var current = -1;
  function cards() {
    return Array.prototype.slice.call(document.querySelectorAll(".paper-card"));
  }
  function moveTo(index) {
    var list = cards();
    if (!list.length) return;
    index = Math.max(0, Math.min(list.length - 1, index));
    if (list[current]) list[current].classList.remove("current-card");
    current = index;
    var card = list[current];
    card.classList.add("current-card");
    card.scrollIntoView({ block: "center" });
    var link = card.querySelector(".paper-title a");
    if (link) link.focus({ preventScroll: true });
  }
  function currentCard() {
    var list = cards();
    var focused = document.activeElement && document.activeElement.closest && document.activeElement.closest(".paper-card");
    return focused || list[current] || null;
  }
  function actionsOf(card) {
    var id = card.id.replace("paper-", "");
    return document.querySelector('.pf-actions[data-paper-id="' + id + '"]');
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    var card;
    if (event.key === "/") {
      var box = document.querySelector(".search-form input[type=search], .header-search input");
      event.preventDefault();
      if (box && box.offsetParent === null && menu) menu.classList.add("open");
      if (box) { box.focus(); box.select(); }
      if (!box || document.activeElement !== box) window.location.href = ROOT + "/search";
    } else if (event.key === "j" || event.key === "k") {
      var list = cards();
      var at = currentCard() ? list.indexOf(currentCard()) : -1;
      moveTo(event.key === "j" ? at + 1 : Math.max(at - 1, 0));
    } else if (event.key === "u" && (card = currentCard())) {
      var voteButton = card.querySelector(".vote-button");
      if (voteButton) voteButton.click();
    } else if (event.key === "s" && (card = currentCard())) {
      var actions = actionsOf(card);
      var saveButton = actions && actions.querySelector(".save-button");
      if (saveButton) saveButton.click();
      else if (!document.querySelector(".user-link")) window.location.href = ROOT + "/signin?next=" + encodeURIComponent(here());
    }
  });
})();
