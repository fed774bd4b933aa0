// unsub.js - open an unsubscribe URL in headless Chromium, screenshot the
// page, press the "Unsubscribe from LIST" button and report what happened.
// Used by tests/e2e/t-unsub-browser.sh; the shell test makes the assertions.
//
// Usage: node unsub.js URL LISTNAME OUTDIR [resubscribe]
// Drives Debian's /usr/bin/chromium (CHROMIUM overrides) through
// playwright-core with a new empty profile under OUTDIR.  Writes
// OUTDIR/unsubscribe.png (the page as first opened), OUTDIR/phone.png (the
// same page at phone width) and OUTDIR/confirmation.png (after the click),
// and prints one JSON object on stdout.  Exit 0 when the run got as far as
// the confirmation page, 1 otherwise (the JSON then has "error").
//
// With "resubscribe": open the preferences (URL with /u/ turned into /p/),
// take the page's CSRF mark, and let a page of another origin
// (http://evil.test/, served by the browser's request interception, so
// nothing leaves the machine) post "subscribe again" with it: cross-site,
// it must be refused.  Then press "Subscribe again to LISTNAME" on the
// preferences page itself.  Writes OUTDIR/preferences.png; exit 0 when the
// run got as far as the page after that click.

'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const [url, listName, outDir, phase] = process.argv.slice(2);
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

// resubscribe - the cross-site attempt, then the preferences' own button
async function resubscribe(ctx, page) {
	const prefs = url.replace('/u/', '/p/');
	let resp = await page.goto(prefs, { waitUntil: 'load' });
	out.prefsStatus = resp ? resp.status() : 0;
	out.prefs = await pageFacts(page);
	const marks = page.locator('input[name="csrf"]');
	const csrf = await marks.count() ?
	    await marks.first().getAttribute('value') : '';
	out.csrfShape = /^[0-9]+\.[0-9a-f]{64}$/.test(csrf || '');

	// another site, holding the token and a fresh mark, posts the form
	const esc = (v) => String(v).replace(/&/g, '&amp;')
	    .replace(/"/g, '&quot;').replace(/</g, '&lt;');
	await ctx.route('http://evil.test/**', (r) => r.fulfill({
		status: 200, contentType: 'text/html',
		body: '<!DOCTYPE html><form method="post" action="' +
		    esc(prefs) + '"><input name="list" value="news">' +
		    '<input name="action" value="opt_in">' +
		    '<input name="csrf" value="' + esc(csrf) + '">' +
		    '<button>win a prize</button></form>',
	}));
	const evil = await ctx.newPage();
	await evil.goto('http://evil.test/', { waitUntil: 'load' });
	const [cross] = await Promise.all([
		evil.waitForResponse((r) => r.request().method() === 'POST'),
		evil.getByRole('button', { name: 'win a prize' }).click(),
	]);
	out.crossStatus = cross.status();
	await evil.close();

	const button = page.getByRole('button',
	    { name: 'Subscribe again to ' + listName, exact: true });
	out.resubButtonCount = await button.count();
	const [post] = await Promise.all([
		page.waitForResponse((r) => r.request().method() === 'POST'),
		button.click(),
	]);
	out.resubStatus = post.status();
	out.resubBody = post.request().postData();
	await page.waitForLoadState('load');
	out.resubAfter = await pageFacts(page);
	await page.screenshot({ path: path.join(outDir, 'preferences.png'),
	    fullPage: true });
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
		if (phase === 'resubscribe') {
			await resubscribe(ctx, page);
			return;
		}

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
