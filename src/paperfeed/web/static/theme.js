// Applies the theme chosen with the header toggle before the page paints (no flash).
// Also marks the page as scripted (class "js") before it paints.
// Without a choice the page follows the system's light or dark setting.
(function () {
  // Set here, before the first paint, not in the deferred app.js: the phone menu
  // folds under .js, and folding it after the paint moved the whole page (CLS).
  document.documentElement.classList.add("js");
  try {
    var theme = window.localStorage.getItem("pf-theme");
    if (theme === "dark" || theme === "light") document.documentElement.setAttribute("data-theme", theme);
  } catch (e) { /* storage blocked: follow the system */ }
})();
