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
