// Import maps for WebViews that lack them (older than Chrome 89 / Safari 16.4, e.g. WeChat's old
// X5): es-module-shims is loaded there only. Where import maps are native it would do nothing but
// its feature test, an inline script in a hidden iframe that the page's Content-Security-Policy
// refuses (merchant_scanner/README.md, "Content-Security-Policy"). A classic script, not a
// module: it must run in browsers that cannot yet resolve the app's bare imports.
(function loadImportMapShim() {
  var supports = window.HTMLScriptElement && HTMLScriptElement.supports;
  if (supports && HTMLScriptElement.supports('importmap')) return;
  var script = document.createElement('script');
  script.async = true;
  script.src = './vendor/es-module-shims/dist/es-module-shims.js';
  document.head.appendChild(script);
}());
