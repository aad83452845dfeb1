// Preselect the browser's own time zone on the subscribe form (when the server had no better guess).
(function () {
  var select = document.getElementById("timezone");
  if (!select || select.dataset.current !== "UTC") return;
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && select.querySelector('option[value="' + zone + '"]')) select.value = zone;
  } catch (e) { /* keep UTC */ }
})();
