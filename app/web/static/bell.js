// The unread counter in the top bar, shared by the chrome and the notifications page.

let unread = 0;

export function getUnread() { return unread; }

export function setUnread(count) {
  unread = Math.max(0, count);
  const badge = document.getElementById("bell-count");
  if (!badge) return;
  badge.textContent = String(unread);
  badge.classList.toggle("hidden", unread === 0);
  document.getElementById("bell").setAttribute("aria-label", `Notifications, ${unread} unread`);
}
