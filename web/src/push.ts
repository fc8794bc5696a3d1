// Ending this browser's Web Push subscription: the server's copy first (while the session
// still works), then the browser's, then the account the worker opened notices for. Used by
// the Settings control and by signing out (a signed-out browser is told of nothing more).

import * as api from "./api";
import * as store from "./store";

/** The service worker's registration, if it is running (null where there is none). */
export async function workerRegistration(timeoutMs = 10_000): Promise<ServiceWorkerRegistration | null> {
  if (!("serviceWorker" in navigator)) return null;
  const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), timeoutMs));
  return Promise.race([navigator.serviceWorker.ready, timeout]);
}

/** Removes the subscription on the server and in the browser. */
export async function endSubscription(): Promise<void> {
  await api.del("/api/push/subscription");
  const reg = await workerRegistration(2_000);
  await (await reg?.pushManager?.getSubscription())?.unsubscribe();
  await store.forgetPushAccount();
}

/** [`endSubscription`] when this browser has one; never fails (signing out must go on). */
export async function endSubscriptionIfAny(): Promise<void> {
  try {
    if ((await store.pushAccount()) === undefined) return;
    await endSubscription();
  } catch {
    // The server's copy is dropped anyway once the push service says it is gone.
  }
}
