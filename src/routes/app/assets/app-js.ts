/** Shared client script: confirmation on dangerous buttons. Served at /app/assets/app.js. */
export const APP_JS = `
document.addEventListener("submit", function (e) {
  var f = e.target;
  var msg = f && f.getAttribute && f.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) e.preventDefault();
});
`;
