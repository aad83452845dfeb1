// Applies the theme chosen with the header toggle before the page paints (no flash).
// Without a choice the page follows the system's light or dark setting.
(function () {
  try {
    var theme = window.localStorage.getItem("pf-theme");
    if (theme === "dark" || theme === "light") document.documentElement.setAttribute("data-theme", theme);
  } catch (e) { /* storage blocked: follow the system */ }
})();
