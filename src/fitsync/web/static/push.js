// Settings: turn push notifications on or off for this browser.
(() => {
  "use strict";
  const box = document.getElementById("push");
  if (!box) return;
  const status = box.querySelector("[data-status]");
  const on = box.querySelector("[data-push-on]");
  const off = box.querySelector("[data-push-off]");
  if (!("serviceWorker" in navigator && "PushManager" in window && "Notification" in window)) {
    status.textContent = "This browser cannot receive push notifications.";
    return;
  }
  const key = Uint8Array.from(atob(box.dataset.key.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const send = (path, body) => fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "content-type": "application/json", "X-CSRF-Token": box.dataset.csrf },
    body: JSON.stringify(body),
  });
  const show = (subscribed) => { on.hidden = subscribed; off.hidden = !subscribed; };
  const ready = navigator.serviceWorker.register("/sw.js").then(() => navigator.serviceWorker.ready);
  ready.then((reg) => reg.pushManager.getSubscription()).then((sub) => show(Boolean(sub))).catch(() => show(false));
  on.addEventListener("click", async () => {
    try {
      if ((await Notification.requestPermission()) !== "granted") throw new Error("Notifications are blocked for this site in the browser's settings.");
      const reg = await ready;
      const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
      const response = await send("/settings/push", sub.toJSON());
      if (!response.ok) throw new Error("FitSync could not keep this device; try again.");
      status.textContent = "Push notifications are on for this device.";
      show(true);
    } catch (error) {
      status.textContent = error.message.startsWith("FitSync") || error.message.startsWith("Notifications") ? error.message : "This browser's push service is unreachable right now.";
    }
  });
  off.addEventListener("click", async () => {
    const sub = await (await ready).pushManager.getSubscription();
    if (sub) { await send("/settings/push/off", { endpoint: sub.endpoint }); await sub.unsubscribe(); }
    status.textContent = "Push notifications are off for this device.";
    show(false);
  });
})();
