// Small progressive enhancements; every page works without this file.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source) return;
  var text = source.value !== undefined ? source.value : source.textContent;
  if (navigator.clipboard) {
    navigator.clipboard.writeText(text).then(function () {
      var old = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = old; }, 1200);
    }, function () {});
  }
});
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-reveal]");
  if (!button) return;
  var field = document.getElementById(button.getAttribute("data-reveal"));
  if (!field) return;
  field.type = field.type === "password" ? "text" : "password";
  button.textContent = field.type === "password" ? "Reveal" : "Hide";
});
// Remove buttons of the recipients picker and the response options editor.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-remove-closest]");
  if (!button) return;
  var item = button.closest(button.getAttribute("data-remove-closest"));
  if (item) item.remove();
});
// Enter in a type-ahead box picks nothing and must not submit the whole form.
document.addEventListener("keydown", function (event) {
  if (event.key === "Enter" && event.target.matches("[data-no-submit]")) event.preventDefault();
});
// Plain (non-HTMX) forms that undo something ask first; HTMX forms use hx-confirm.
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) event.preventDefault();
});
// Polled panels are replaced every few seconds: keep the <details> the reader opened open.
var openDetails = {};
document.addEventListener("toggle", function (event) {
  if (event.target.id) openDetails[event.target.id] = event.target.open;
}, true);
document.addEventListener("htmx:load", function (event) {
  event.target.querySelectorAll("details[id]").forEach(function (details) {
    if (openDetails[details.id]) details.open = true;
  });
});
// A read-only text box shown whole (the integration URL): as tall as its text, no scrollbar.
function fitTextareas(root) {
  root.querySelectorAll("textarea[data-fit]").forEach(function (box) {
    box.style.height = "auto";
    box.style.height = box.scrollHeight + 2 + "px";
  });
}
document.addEventListener("DOMContentLoaded", function () { fitTextareas(document); });
document.addEventListener("htmx:load", function (event) { fitTextareas(event.target); });
// Fields that only mean something for one kind of "When" (a flow's trigger) show only for it.
function syncWhen(root) {
  var when = document.getElementById("triggerType");
  if (!when) return;
  root.querySelectorAll("[data-show-when]").forEach(function (field) {
    field.hidden = field.getAttribute("data-show-when") !== when.value;
  });
}
document.addEventListener("DOMContentLoaded", function () { syncWhen(document); });
document.addEventListener("htmx:load", function () { syncWhen(document); });
document.addEventListener("change", function (event) {
  if (event.target.id !== "triggerType") return;
  syncWhen(document);
  // The flow editor's field reference opens the trigger fields of the chosen "When".
  document.querySelectorAll("details[data-trigger]").forEach(function (details) {
    details.open = details.getAttribute("data-trigger") === event.target.value;
  });
});
window.addEventListener("resize", function () { fitTextareas(document); });
// Member pickers: typing narrows the list of people to tick.
document.addEventListener("input", function (event) {
  if (!event.target.matches("[data-picker-search]")) return;
  var picker = event.target.closest("[data-picker]");
  var words = event.target.value.trim().toLowerCase();
  var shown = 0;
  picker.querySelectorAll("[data-picker-item]").forEach(function (item) {
    item.hidden = words !== "" && item.getAttribute("data-picker-item").indexOf(words) === -1;
    if (!item.hidden) shown += 1;
  });
  picker.querySelector("[data-picker-none]").hidden = shown !== 0;
});
