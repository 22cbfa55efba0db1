// Swagger UI for /openapi.json, from the files this server ships (no CDN). The
// gallery's API token, when there is one, is filled in for "Try it out".
(() => {
  const root = document.getElementById("swagger-ui");
  const token = localStorage.getItem("image-repo.token");
  const ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    validatorUrl: null, // the default badge would ask another host
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    onComplete: () => {
      if (token) ui.preauthorizeApiKey("BearerAuth", token);
    },
  });
})();
