// Loaded at the top of <body>: lets GOV.UK Frontend styles know scripts run (no inline script,
// so the Content-Security-Policy can forbid inline code).
document.body.className += " js-enabled" +
  ("noModule" in HTMLScriptElement.prototype ? " govuk-frontend-supported" : "");
