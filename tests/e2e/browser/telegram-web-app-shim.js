// Stands in for https://telegram.org/js/telegram-web-app.js in the browser tests: the parts of
// window.Telegram.WebApp the owner app uses, fed by window.__tma (set by the test before the page
// loads): initData, themeParams and colorScheme. Like Telegram's script, it sets the
// --tg-theme-* CSS variables from themeParams; buttons record what the page did with them.
(function () {
  const given = window.__tma || {};
  const calls = (window.__tmaCalls = []);
  const button = (name) => {
    const state = { text: "", isVisible: false, handlers: [] };
    return Object.assign(state, {
      setText(text) { state.text = text; calls.push([name, "setText", text]); return state; },
      show() { state.isVisible = true; calls.push([name, "show"]); return state; },
      hide() { state.isVisible = false; calls.push([name, "hide"]); return state; },
      onClick(fn) { state.handlers.push(fn); return state; },
      offClick(fn) { state.handlers = state.handlers.filter((h) => h !== fn); return state; },
      click() { state.handlers.forEach((h) => h()); },
    });
  };
  const themeParams = given.themeParams || {};
  for (const [key, value] of Object.entries(themeParams)) {
    document.documentElement.style.setProperty("--tg-theme-" + key.replace(/_/g, "-"), value);
  }
  window.Telegram = {
    WebApp: {
      initData: given.initData || "",
      initDataUnsafe: {},
      colorScheme: given.colorScheme || "light",
      themeParams,
      version: "7.0",
      platform: "tdesktop",
      MainButton: button("MainButton"),
      BackButton: button("BackButton"),
      HapticFeedback: { notificationOccurred(kind) { calls.push(["HapticFeedback", kind]); } },
      ready() { calls.push(["ready"]); },
      expand() { calls.push(["expand"]); },
    },
  };
})();
