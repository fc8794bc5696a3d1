// Sharing and the neighbourhood feed in the browser: a clip shared with another account by
// its root (wrapped on the owner's device to the devices of that account's verified chain),
// opened and played on the other account's browser, revoked; then posted to the feed after a
// confirmation that names what becomes public, watched by the other account, and deleted.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { device, launch, missing, serve, snap, type Server } from "./harness";
import { signUp } from "./flows";
import { ageRecipient, cameraWithClips, home, type Home } from "./home";

const skip = missing();
if (skip) console.log(`web e2e skipped: ${skip}`);

describe("sharing and the feed in the browser", { skip: skip ?? false }, () => {
  let server: Server;
  let browser: Browser;
  let hub: Home | undefined;

  before(async () => {
    server = await serve({ PORCHLIGHT_RESEARCH__RECIPIENT: ageRecipient(), PORCHLIGHT_SIGNIN__PER_SOURCE_PER_MINUTE: "100000" });
    browser = await launch();
  });
  after(async () => {
    hub?.stop();
    await browser?.close();
    await server?.stop();
  });

  it("shares a clip by root, plays it on the other account, revokes it, posts it and deletes the post", async () => {
    const owner = await device(browser);
    const friend = await device(browser);
    await signUp(owner.page, server.url, "owner@example.com");
    await signUp(friend.page, server.url, "friend@example.com");
    hub = await home(owner.page, "porch");
    await hub.record(1);
    await cameraWithClips(owner.page, "porch");
    await owner.page.getByRole("list", { name: "Clips" }).locator("a").first().click();
    const clipUrl = owner.page.url();

    // The friend's root, as their Shared screen shows it.
    await friend.page.getByRole("link", { name: "Shared", exact: true }).click();
    const root = ((await friend.page.getByTestId("own-root").textContent()) ?? "").trim();
    assert.match(root, /^[0-9a-f]{64}$/);
    await friend.page.getByText("Nothing is shared with you.").waitFor();

    // Bad roots are refused with a clear message and share nothing.
    const shareForm = owner.page.getByRole("form", { name: "Share this clip" });
    await shareForm.getByLabel("Their account root").fill("not a root");
    await shareForm.getByRole("button", { name: "Share" }).click();
    await shareForm.getByRole("alert").getByText(/is 64 hexadecimal digits/).waitFor();
    await owner.page.getByRole("link", { name: "Shared", exact: true }).click();
    const ownRoot = ((await owner.page.getByTestId("own-root").textContent()) ?? "").trim();
    await owner.page.goto(clipUrl);
    await shareForm.getByLabel("Their account root").fill(ownRoot);
    await shareForm.getByRole("button", { name: "Share" }).click();
    await shareForm.getByRole("alert").getByText(/this account's own/).waitFor();
    await owner.page.locator('[data-shares="0"]').waitFor();

    // Share with the friend (pasted with dashes and spaces, as people do).
    await shareForm.getByLabel("Their account root").fill(root.replace(/(.{16})/g, "$1 - "));
    await shareForm.getByRole("button", { name: "Share" }).click();
    await owner.page.locator('[data-shares="1"]').waitFor();
    await snap(owner.page, "clip-sharing");

    // The friend sees it and plays it, checked against the owner's chain.
    await friend.page.reload();
    const list = friend.page.getByRole("list", { name: "Clips shared with me" });
    await list.waitFor();
    await snap(friend.page, "shared-with-me");
    await list.locator("a").first().click();
    const video = friend.page.locator("main video");
    await video.waitFor();
    await friend.page.locator('[data-verified="true"]').waitFor({ timeout: 60_000 });
    assert.ok(await video.evaluate((v: HTMLVideoElement) => v.readyState >= 2 || v.buffered.length > 0));
    await snap(friend.page, "shared-clip");
    const sharedUrl = friend.page.url();

    // Revoke: the confirmation says copies already downloaded are beyond reach.
    await owner.page.getByRole("button", { name: /Revoke the share with/ }).click();
    const revoke = owner.page.getByRole("group", { name: /Revoke the share with/ });
    assert.match((await revoke.textContent()) ?? "", /Copies already downloaded are beyond reach/);
    await revoke.getByRole("button", { name: "Revoke share" }).click();
    await owner.page.locator('[data-shares="0"]').waitFor();
    await friend.page.goto(sharedUrl);
    await friend.page.getByText("This clip is not shared with you (any more).").waitFor();
    await friend.page.getByRole("link", { name: "Shared", exact: true }).click();
    await friend.page.getByText("Nothing is shared with you.").waitFor();

    // An invitation link in place of the root: the friend sends theirs; the owner opens it,
    // names them, and picks them by name when sharing.
    const invite = (await friend.page.getByTestId("invite-link").getAttribute("href")) ?? "";
    assert.ok(invite.endsWith(`/invite#${root}`), invite);
    await friend.page.getByRole("img", { name: "QR code of your invitation link" }).waitFor();
    await snap(friend.page, "shared-invitation");
    await owner.page.goto(invite);
    await owner.page.getByRole("heading", { name: "Invitation" }).waitFor();
    await owner.page.getByLabel("Their name").fill("Sam next door");
    await snap(owner.page, "invitation");
    await owner.page.getByRole("button", { name: "Keep contact" }).click();
    await owner.page.getByText("Sam next door is in your contacts").waitFor();
    await owner.page.goto(clipUrl);
    const shareWith = shareForm.getByLabel("Share with");
    await shareWith.waitFor();
    assert.equal(await shareForm.getByLabel("Their account root").isVisible(), false);
    await shareWith.selectOption({ label: `Sam next door (${root.slice(0, 20).match(/.{4}/g)?.join("-")})` });
    await shareForm.getByRole("button", { name: "Share" }).click();
    await owner.page.getByText(/Shared with Sam next door/).waitFor();
    await owner.page.locator('[data-shares="1"]').waitFor();
    await friend.page.reload();
    await friend.page.getByRole("list", { name: "Clips shared with me" }).waitFor();
    // A link that is not whole says so.
    await owner.page.goto(`${server.url}/invite#${root.slice(0, 40)}`);
    await owner.page.getByText("This invitation link is not whole").waitFor();

    // Post: the point is rounded to its grid cell, and the confirmation names what is public.
    await owner.page.goto(clipUrl);
    await owner.page.getByRole("button", { name: "Post to the neighbourhood feed…" }).click();
    const postForm = owner.page.getByRole("form", { name: "Post to the neighbourhood feed" });
    await postForm.getByLabel("Neighbourhood").fill("Mill Road");
    await postForm.getByLabel("Area").fill("52.19987,181");
    await postForm.getByRole("button", { name: "Review the post…" }).click();
    await postForm.getByRole("alert").getByText(/longitude between -180 and 180/).waitFor();
    await postForm.getByLabel("Area").fill("52.19987, 0.13881");
    await postForm.getByRole("button", { name: "Review the post…" }).click();
    const confirm = owner.page.getByRole("group", { name: "Post this clip publicly?" });
    const said = (await confirm.textContent()) ?? "";
    assert.match(said, /camera porch/);
    assert.match(said, /UTC/);
    assert.match(said, /Neighbourhood: Mill Road/);
    assert.match(said, /grid cell 52\.19,0\.13/);
    assert.doesNotMatch(said, /52\.1998|0\.1388/);
    assert.match(said, /Every signed-in Porchlight user can watch it/);
    assert.match(said, /research dataset/);
    assert.match(said, /Delete it any time/);
    await snap(owner.page, "post-confirm");
    await confirm.getByRole("button", { name: "Post publicly" }).click();
    await owner.page.getByText(/Posted to Mill Road, area 52\.19,0\.13\. Its research copy is added/).waitFor({ timeout: 60_000 });

    // The friend finds it by neighbourhood and area, and plays it.
    await friend.page.getByRole("link", { name: "Feed", exact: true }).click();
    await friend.page.getByLabel("Neighbourhood").fill("Mill Road");
    await friend.page.getByLabel("Area").fill("52.19,0.13");
    await friend.page.getByRole("button", { name: "Show posts" }).click();
    const posts = friend.page.getByRole("list", { name: "Posts" });
    await posts.locator("li").first().waitFor();
    assert.equal(await posts.locator("li").count(), 1);
    await posts.getByRole("button", { name: /^Play the post/ }).click();
    await friend.page.locator('[data-loaded="true"]').waitFor({ timeout: 30_000 });
    await snap(friend.page, "feed");
    await friend.page.getByLabel("Area").fill("52.20,0.13");
    await friend.page.getByRole("button", { name: "Show posts" }).click();
    await friend.page.getByText("No posts here yet.").waitFor();

    // The owner deletes it from My posts: gone from the feed, its research copy withdrawn.
    await owner.page.goto(`${server.url}/feed/mine`);
    const mine = owner.page.getByRole("list", { name: "My posts" });
    await mine.waitFor();
    await snap(owner.page, "my-posts");
    await mine.getByRole("button", { name: /^Delete the post/ }).click();
    await owner.page.getByRole("group", { name: "Delete this post?" }).getByRole("button", { name: "Delete post" }).click();
    await owner.page.getByText("Post deleted and its research copy withdrawn.").waitFor({ timeout: 30_000 });
    await owner.page.getByText("You have not posted anything.").waitFor();
    await friend.page.getByLabel("Area").fill("");
    await friend.page.getByRole("button", { name: "Show posts" }).click();
    await friend.page.getByText("No posts here yet.").waitFor();

    assert.deepEqual(owner.errors, []);
    // The revoked share's 404 is logged by the browser itself.
    assert.deepEqual(friend.errors.filter((e) => !/status of 404/.test(e)), []);
  });
});
