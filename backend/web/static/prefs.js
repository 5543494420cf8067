// What the citizen's pages (/m/ and /gongshi/) share: the large-text mode (适老化), remembered per
// device in localStorage, and one way to show a message (success in green, never red).
const LARGE_TEXT = "xym.largeText";

function apply(button, on) {
  document.documentElement.classList.toggle("large-text", on);
  if (button) {
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? "标准字" : "大字";
  }
}

/** Wire the large-text switch `button` and apply the device's saved choice. */
export function largeTextSwitch(button) {
  apply(button, localStorage.getItem(LARGE_TEXT) === "1");
  button.addEventListener("click", () => {
    const on = !document.documentElement.classList.contains("large-text");
    localStorage.setItem(LARGE_TEXT, on ? "1" : "0");
    apply(button, on);
  });
}

/** Show `text` in `element` as a success (never red) or an error. */
export function say(element, text, { error = false } = {}) {
  element.textContent = text;
  element.classList.toggle("error", error && Boolean(text));
  element.classList.toggle("ok", !error && Boolean(text));
}
