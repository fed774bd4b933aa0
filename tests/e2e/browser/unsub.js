// unsub.js - open an unsubscribe URL in headless Chromium, screenshot the
// page, press the "Unsubscribe from LIST" button and report what happened.
// Used by tests/e2e/t-unsub-browser.sh; the shell test makes the assertions.
//
// Usage: node unsub.js URL LISTNAME OUTDIR
// Drives Debian's /usr/bin/chromium (CHROMIUM overrides) through
// playwright-core with a new empty profile under OUTDIR.  Writes
// OUTDIR/unsubscribe.png (the page as first opened), OUTDIR/phone.png (the
// same page at phone width) and OUTDIR/confirmation.png (after the click),
// and prints one JSON object on stdout.  Exit 0 when the run got as far as
// the confirmation page, 1 otherwise (the JSON then has "error").

'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const [url, listName, outDir] = process.argv.slice(2);
if (!url || !listName || !outDir) {
	console.error('usage: node unsub.js URL LISTNAME OUTDIR');
	process.exit(64);
}

const out = { url, consoleErrors: [], requests: [] };

// pageFacts - what the shell test checks on a rendered page
async function pageFacts(page) {
	return page.evaluate(() => {
		const de = document.documentElement;
		const btn = Array.from(document.querySelectorAll('button'));
		const sheet = Array.from(document.styleSheets);
		return {
			title: document.title,
			lang: de.getAttribute('lang'),
			text: document.body ? document.body.innerText : '',
			buttons: btn.map((b) => b.textContent.trim()),
			// horizontal overflow means a broken layout at this width
			overflowX: de.scrollWidth > de.clientWidth,
			// the inline style was applied (a CSP hash mismatch blocks it)
			styled: sheet.length > 0 && sheet.every((s) => s.cssRules &&
			    s.cssRules.length > 0),
			userAgent: navigator.userAgent,
		};
	});
}

async function main() {
	const profile = fs.mkdtempSync(path.join(outDir, 'profile-'));
	const ctx = await chromium.launchPersistentContext(profile, {
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu',
		    '--disable-quic', '--no-first-run',
		    '--disable-background-networking',
		    '--disable-component-update', '--disable-sync'],
		viewport: { width: 1024, height: 720 },
		timeout: 30000,
	});
	try {
		const page = ctx.pages()[0] || await ctx.newPage();
		page.setDefaultTimeout(15000);
		page.on('console', (m) => {
			if (m.type() === 'error')
				out.consoleErrors.push(m.text());
		});
		page.on('pageerror', (e) => out.consoleErrors.push(String(e)));
		page.on('request', (r) => out.requests.push(r.method() + ' ' +
		    r.url()));

		const resp = await page.goto(url, { waitUntil: 'load' });
		out.getStatus = resp ? resp.status() : 0;
		out.getHeaders = resp ? resp.headers() : {};
		out.before = await pageFacts(page);
		await page.screenshot({ path: path.join(outDir,
		    'unsubscribe.png'), fullPage: true });

		// the same page at phone width, separately (a GET changes nothing)
		const phone = await ctx.newPage();
		await phone.setViewportSize({ width: 360, height: 740 });
		await phone.goto(url, { waitUntil: 'load' });
		out.phone = await pageFacts(phone);
		await phone.screenshot({ path: path.join(outDir, 'phone.png'),
		    fullPage: true });
		await phone.close();

		// keyboard reachability: the first Tab lands on a control
		await page.keyboard.press('Tab');
		out.firstFocus = await page.evaluate(() =>
		    document.activeElement ? document.activeElement.tagName +
		    ' ' + document.activeElement.textContent.trim() : '');

		const button = page.getByRole('button',
		    { name: 'Unsubscribe from ' + listName, exact: true });
		out.buttonCount = await button.count();
		const [post] = await Promise.all([
			page.waitForResponse((r) =>
			    r.request().method() === 'POST'),
			button.click(),
		]);
		out.postStatus = post.status();
		out.postBody = post.request().postData();
		await page.waitForLoadState('load');
		out.after = await pageFacts(page);
		out.afterUrl = page.url();
		await page.screenshot({ path: path.join(outDir,
		    'confirmation.png'), fullPage: true });
	} finally {
		await ctx.close();
	}
}

main().then(() => {
	process.stdout.write(JSON.stringify(out) + '\n');
	process.exit(0);
}, (e) => {
	out.error = String(e && e.message ? e.message : e);
	process.stdout.write(JSON.stringify(out) + '\n');
	process.exit(1);
});
