// Starts Swagger UI for /api/docs (kept out of the page so the CSP forbids inline scripts).
window.addEventListener("load", function () {
  var root = document.documentElement.getAttribute("data-root") || "";  // PAPERFEED_ROOT_PATH
  window.ui = SwaggerUIBundle({ url: root + "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
