// FitSync's service worker: shows the push notifications FitSync sends (Web Push + VAPID).
self.addEventListener("push", (event) => {
  let note = {};
  try { note = event.data ? event.data.json() : {}; } catch { note = { body: event.data && event.data.text() }; }
  event.waitUntil(self.registration.showNotification(note.title || "FitSync", {
    body: note.body || "",
    tag: note.event_id,
    data: { url: note.url || "/" },
  }));
});
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data.url || "/", self.location.origin);
  if (url.origin !== self.location.origin) return;  // only FitSync's own pages
  event.waitUntil(self.clients.openWindow(url.href));
});
