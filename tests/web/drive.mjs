// Drives virtnat's Cockpit page in Debian's chromium for tests/web/run.sh.
//
//   node drive.mjs BASE_URL SCREENSHOT_DIR
//
// Reads one JSON command per line on stdin and answers each with one JSON line on stdout
// ({"ok": true, ...} or {"ok": false, "error": "..."}), so that run.sh can interleave the
// browser with real connections between network namespaces. puppeteer-core comes from the
// folder in VIRTNAT_WEB_MODULES (npm ci there, see run.sh); the browser is /usr/bin/chromium
// (CHROMIUM overrides), never a downloaded one.
//
// Commands:
//   {"cmd":"shell"}                        Cockpit's shell: is "Port forwarding" in its menu,
//                                          and does the page open from it
//   {"cmd":"open"}                         the page itself, until virtnat's status has loaded
//   {"cmd":"view","name":"networks"}       click a tab (forwards, networks, vms)
//   {"cmd":"rows","table":"forwards-table"}  every body row: cells' text and data-* attributes
//   {"cmd":"text","selector":"#health"}    innerText of an element ("" if none / hidden)
//   {"cmd":"refreshed","count":2}          wait until status has been re-read COUNT more times
//   {"cmd":"fill","values":{"add-host":"lxdev02",...}}  set the form's fields
//   {"cmd":"submit"}                       submit the add form; wait for virtnat's answer
//   {"cmd":"remove","key":"tcp 198.51.100.1 8080"}      click Remove of that row; the dialog
//   {"cmd":"cancel"} / {"cmd":"confirm"}   the dialog's buttons
//   {"cmd":"screenshot","name":"web-forwards","full":true}
//   {"cmd":"quit"}
import { createRequire } from "node:module";
import path from "node:path";
import readline from "node:readline";

const [baseUrl, screenshotDir] = process.argv.slice(2);
const modules = process.env.VIRTNAT_WEB_MODULES;
if (!baseUrl || !screenshotDir || !modules) {
    console.error("usage: VIRTNAT_WEB_MODULES=DIR node drive.mjs BASE_URL SCREENSHOT_DIR");
    process.exit(2);
}
const require = createRequire(path.join(modules, "package.json"));
const puppeteer = require("puppeteer-core");

const PAGE_URL = baseUrl + "/cockpit/@localhost/virtnat/index.html";
const TIMEOUT = 30000;
// Cockpit's shell waits for D-Bus services that a lab namespace has not (systemd, logind)
// before it shows a page: give it longer.
const SHELL_TIMEOUT = 90000;

const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: "new",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--metrics-recording-only", "--no-default-browser-check",
        "--lang=en-US"],
    defaultViewport: { width: 1360, height: 860 },
});
const page = await browser.newPage();
const consoleLines = [];
page.on("console", (message) => consoleLines.push(message.type() + ": " + message.text()));
page.on("pageerror", (error) => consoleLines.push("pageerror: " + error.message));

// The frame that shows virtnat's page: the page itself, or the shell's iframe.
let frame = page.mainFrame();

async function waitRefreshes(atLeast) {
    await frame.waitForFunction(
        (n) => Number(document.body.getAttribute("data-status-refreshes") || 0) >= n,
        { timeout: TIMEOUT }, atLeast);
}

async function refreshes() {
    return frame.evaluate(() => Number(document.body.getAttribute("data-status-refreshes") || 0));
}

const commands = {
    async shell() {
        const start = Date.now();
        const seconds = () => ((Date.now() - start) / 1000).toFixed(1);
        await page.goto(baseUrl + "/", { waitUntil: "load", timeout: SHELL_TIMEOUT });
        const found = await page.waitForFunction(() => {
            for (const link of document.querySelectorAll("a"))
                if (link.textContent.trim() === "Port forwarding") return link.getAttribute("href") || "#";
            return false;
        }, { timeout: SHELL_TIMEOUT }).then((handle) => handle.jsonValue()).catch(() => null);
        if (!found) return { menu: false, seconds: seconds() };
        const menuSeconds = seconds();
        await page.evaluate(() => {
            for (const link of document.querySelectorAll("a"))
                if (link.textContent.trim() === "Port forwarding") { link.click(); return; }
        });
        const handle = await page.waitForSelector('iframe[src*="virtnat/index.html"]', { timeout: SHELL_TIMEOUT });
        frame = await handle.contentFrame();
        await frame.waitForFunction(() => Number(document.body.getAttribute("data-status-refreshes") || 0) >= 1,
            { timeout: SHELL_TIMEOUT });
        const title = await frame.evaluate(() => document.querySelector("h1").innerText);
        return { menu: true, href: found, title, url: page.url(), menuSeconds, seconds: seconds() };
    },

    async open() {
        frame = page.mainFrame();
        await page.goto(PAGE_URL, { waitUntil: "load", timeout: TIMEOUT });
        await waitRefreshes(1);
        return { title: await page.title(), url: page.url() };
    },

    async view({ name }) {
        await frame.click("#tab-" + name);
        await frame.waitForFunction((n) => document.body.getAttribute("data-view") === n, { timeout: TIMEOUT }, name);
        if (name === "vms")
            await frame.waitForFunction(() => ["loaded", "error", "unavailable"].includes(document.body.getAttribute("data-vms")),
                { timeout: TIMEOUT });
        return { view: name };
    },

    async rows({ table }) {
        const rows = await frame.evaluate((id) => {
            const body = document.getElementById(id).tBodies[0];
            return Array.from(body.rows).map((row) => ({
                text: Array.from(row.cells).map((c) => c.innerText.trim()),
                cols: Object.fromEntries(Array.from(row.cells).filter((c) => c.dataset.col).map((c) => [c.dataset.col, c.innerText.trim()])),
                data: { ...row.dataset },
            }));
        }, table);
        return { rows };
    },

    async text({ selector }) {
        const text = await frame.evaluate((s) => {
            const node = document.querySelector(s);
            if (!node || node.closest("[hidden]")) return "";
            return node.innerText.trim();
        }, selector);
        return { text };
    },

    async refreshed({ count }) {
        const now = await refreshes();
        await waitRefreshes(now + (count || 1));
        return { refreshes: await refreshes() };
    },

    async fill({ values }) {
        for (const [id, value] of Object.entries(values)) {
            const tag = await frame.$eval("#" + id, (node) => node.tagName);
            if (tag === "SELECT") {
                await frame.select("#" + id, value);
            } else {
                await frame.$eval("#" + id, (node) => {
                    node.value = "";
                    node.dispatchEvent(new Event("input", { bubbles: true }));
                });
                if (value !== "") await frame.type("#" + id, value);
            }
        }
        return {};
    },

    async submit() {
        await frame.evaluate(() => document.body.removeAttribute("data-add"));
        await frame.click("#add-submit");
        await frame.waitForFunction(() => ["done", "failed"].includes(document.body.getAttribute("data-add")), { timeout: TIMEOUT });
        return frame.evaluate(() => {
            const fieldErrors = {};
            for (const field of document.querySelectorAll("#add-form .vn-field"))
                if (!field.querySelector(".vn-field-error").hidden)
                    fieldErrors[field.dataset.argument] = field.querySelector(".vn-field-error").innerText.trim();
            return {
                result: document.body.getAttribute("data-add"),
                error: document.getElementById("add-error").hidden ? "" : document.getElementById("add-error-text").innerText.trim(),
                output: document.getElementById("add-result").hidden ? "" : document.getElementById("add-result-text").innerText.trim(),
                command: document.getElementById("add-command").innerText.trim(),
                fieldErrors,
            };
        });
    },

    async remove({ key }) {
        const clicked = await frame.evaluate((k) => {
            for (const row of document.querySelectorAll("#forwards-table tbody tr"))
                if (row.dataset.forward === k) { row.querySelector("button.vn-remove").click(); return true; }
            return false;
        }, key);
        if (!clicked) return { dialog: false };
        await frame.waitForFunction(() => !document.getElementById("confirm").hidden, { timeout: TIMEOUT });
        return { dialog: true, text: await frame.$eval("#confirm-text", (n) => n.innerText.trim()) };
    },

    async cancel() {
        await frame.click("#confirm-cancel");
        await frame.waitForFunction(() => document.getElementById("confirm").hidden, { timeout: TIMEOUT });
        return { dialog: false };
    },

    async confirm() {
        await frame.evaluate(() => document.body.removeAttribute("data-remove"));
        await frame.click("#confirm-remove");
        await frame.waitForFunction(() => ["done", "failed"].includes(document.body.getAttribute("data-remove")), { timeout: TIMEOUT });
        return frame.evaluate(() => ({
            result: document.body.getAttribute("data-remove"),
            dialogOpen: !document.getElementById("confirm").hidden,
            error: document.getElementById("confirm-error").hidden ? "" : document.getElementById("confirm-error-text").innerText.trim(),
        }));
    },

    async screenshot({ name, full }) {
        const file = path.join(screenshotDir, name + ".png");
        // Let fonts and layout settle after the last change.
        await frame.evaluate(() => document.fonts.ready.then(() => true));
        await page.screenshot({ path: file, fullPage: !!full });
        return { file };
    },

    async console() {
        return { lines: consoleLines.slice(-40) };
    },
};

const input = readline.createInterface({ input: process.stdin });
for await (const line of input) {
    if (!line.trim()) continue;
    let request;
    let reply;
    try {
        request = JSON.parse(line);
        if (request.cmd === "quit") break;
        const handler = commands[request.cmd];
        if (!handler) throw new Error("unknown command " + request.cmd);
        reply = { ok: true, ...(await handler(request)) };
    } catch (error) {
        reply = { ok: false, error: String(error && error.message ? error.message : error), console: consoleLines.slice(-10) };
    }
    process.stdout.write(JSON.stringify(reply) + "\n");
}
await browser.close();
process.stdout.write(JSON.stringify({ ok: true, bye: true }) + "\n");
