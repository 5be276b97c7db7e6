// Shows ura's OpenAPI document. No validator badge (it would call out to
// the internet); "Try it out" sends requests to this same server.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#ui",
  validatorUrl: null,
  deepLinking: false,
  layout: "BaseLayout",
  presets: [SwaggerUIBundle.presets.apis],
  tryItOutEnabled: false,
  persistAuthorization: false,
});
