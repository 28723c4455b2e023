//go:build linux

package ui

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The browser tests drive the page in headless Chromium against a real `schedulerd serve`
// (built from this module, with its embedded etcd) and a real HTTP target: what a user does
// in the page has to reach etcd, the leader and the target, and come back.

// TestBrowserJobLifecycle creates a job through the form (after the API refused a bad
// schedule next to the field), sees it fire, pauses it through the dialog, and runs it by hand.
func TestBrowserJobLifecycle(t *testing.T) {
	chromium := ensureChromium(t)
	bin := buildSchedulerd(t)
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(target.Close)
	srv := startServe(t, bin)
	b := newBrowser(t, chromium)

	// A job whose description is markup: the page must show it as text.
	const markup = `<img src=x id=injected> & "quotes"`
	srv.put(t, "", "xss", fmt.Sprintf(`{"description":%q,"schedule":"@daily","labels":{"team":"web"},"target":{"http":{"url":%q}}}`, markup, target.URL))

	b.do(t, "open the form", 15*time.Second,
		chromedp.Navigate(srv.url+"/#/new"),
		chromedp.WaitVisible(chromedp.CSS("#f-name")),
		chromedp.SendKeys(chromedp.CSS("#f-name"), "tick"),
		chromedp.SendKeys(chromedp.CSS("#f-url"), target.URL+"/hook"),
		chromedp.SendKeys(chromedp.CSS("#f-schedule"), "61 * * * *"),
		chromedp.Click(chromedp.CSS("#f-submit")))
	b.waitFor(t, "the API's error next to the schedule field", 10*time.Second,
		`document.querySelector('#f-schedule-error').textContent.includes('above maximum') &&
		 document.querySelector('#f-schedule').getAttribute('aria-invalid') === 'true' &&
		 document.querySelector('#form-errors').textContent.includes('Schedule')`)
	if code := srv.status(t, "/v1/jobs/tick"); code != http.StatusNotFound {
		t.Fatalf("after a refused form, GET /v1/jobs/tick answers %d, want 404", code)
	}

	b.do(t, "fix the schedule", 10*time.Second,
		clearInput("#f-schedule"),
		chromedp.SendKeys(chromedp.CSS("#f-schedule"), "@every 1s"))
	b.waitFor(t, "the schedule in words and the preview of fire times", 10*time.Second,
		`document.querySelector('#schedule-words').textContent === 'every second' &&
		 document.querySelectorAll('#preview-times li').length >= 3 &&
		 document.querySelector('#f-schedule-error').textContent === ''`)
	b.do(t, "create the job", 10*time.Second, chromedp.Click(chromedp.CSS("#f-submit")))
	b.waitFor(t, "the job page of the new job", 10*time.Second,
		`location.hash === '#/jobs/tick' && document.querySelector('#job-state')?.textContent === 'active'`)

	b.waitFor(t, "a scheduled run that succeeded", 20*time.Second,
		`document.querySelector('#runs tr[data-trigger="schedule"][data-state="succeeded"]') !== null`)
	if hits.Load() == 0 {
		t.Fatal("the page shows a succeeded run but the target was never called")
	}

	// Escape closes a dialog without doing anything, and gives the focus back.
	b.do(t, "open and dismiss the pause dialog", 10*time.Second,
		chromedp.Click(chromedp.CSS("#action-pause")),
		chromedp.WaitVisible(chromedp.CSS("dialog[open] textarea[name=note]")),
		chromedp.KeyEvent(kb.Escape))
	b.waitFor(t, "the dialog gone and the focus back on Pause", 5*time.Second,
		`!document.querySelector('dialog[open]') && document.activeElement?.id === 'action-pause'`)

	b.do(t, "pause with a note", 10*time.Second,
		chromedp.Click(chromedp.CSS("#action-pause")),
		chromedp.WaitVisible(chromedp.CSS("dialog[open] textarea[name=note]")),
		chromedp.SendKeys(chromedp.CSS("dialog[open] textarea[name=note]"), "disk swap"),
		chromedp.Click(chromedp.CSS("dialog[open] button[value=ok]")))
	b.waitFor(t, "the job paused, with its note, and the focus on Resume", 10*time.Second,
		`document.querySelector('#job-state').textContent === 'paused' &&
		 document.querySelector('#pause-text')?.textContent === 'disk swap' &&
		 document.activeElement?.id === 'action-resume'`)
	if got := srv.jobState(t, "tick"); got != "paused" {
		t.Fatalf("the API says the job is %q after pausing in the page, want paused", got)
	}

	b.do(t, "run it now", 10*time.Second,
		chromedp.Click(chromedp.CSS("#action-trigger")),
		chromedp.WaitVisible(chromedp.CSS("dialog[open] input[name=whilePaused]")),
		chromedp.Click(chromedp.CSS("dialog[open] button[value=ok]")))
	b.waitFor(t, "a manual run that succeeded", 20*time.Second,
		`document.querySelector('#runs tr[data-trigger="manual"][data-state="succeeded"]') !== null`)

	// An edit keeps what the form does not show (the pause and its note live in the JSON box).
	b.do(t, "open the edit form", 10*time.Second,
		chromedp.Navigate(srv.url+"/#/jobs/tick/edit"),
		chromedp.WaitVisible(chromedp.CSS("#f-description")))
	b.waitFor(t, "the form filled in from the job", 10*time.Second,
		`document.querySelector('#f-schedule').value === '@every 1s' && document.querySelector('#f-name').readOnly &&
		 document.querySelector('#f-paused').checked && document.querySelector('#f-raw').value.includes('disk swap')`)
	b.do(t, "change the description", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#f-description"), "edited in the page"),
		chromedp.Click(chromedp.CSS("#f-submit")))
	b.waitFor(t, "the job page with the new description, still paused", 10*time.Second,
		`location.hash === '#/jobs/tick' && document.querySelector('#job-summary')?.textContent.includes('edited in the page') &&
		 document.querySelector('#job-state').textContent === 'paused' && document.querySelector('#pause-text')?.textContent === 'disk swap'`)

	// The list: states, schedules in words, filters, and API text shown as text.
	b.do(t, "open the list", 10*time.Second, chromedp.Navigate(srv.url+"/#/jobs"))
	b.waitFor(t, "both jobs listed, in words, markup as text", 10*time.Second,
		`document.querySelector('tr[data-job="tick"]')?.textContent.includes('paused') &&
		 document.querySelector('tr[data-job="tick"]').textContent.includes('every second') &&
		 document.querySelector('tr[data-job="xss"]')?.textContent.includes('every day at 00:00 (UTC)') &&
		 document.querySelector('tr[data-job="xss"] .sub')?.textContent === `+jsString(markup)+` &&
		 document.querySelector('#injected') === null`)
	b.do(t, "filter by label", 10*time.Second, chromedp.SendKeys(chromedp.CSS("#filter-label"), "team=web"))
	b.waitFor(t, "only the labelled job", 10*time.Second,
		`document.querySelector('tr[data-job="xss"]') !== null && document.querySelector('tr[data-job="tick"]') === null`)

	// At phone width nothing scrolls sideways.
	b.do(t, "phone width", 10*time.Second, chromedp.EmulateViewport(375, 800), chromedp.Navigate(srv.url+"/#/jobs/tick"))
	b.waitFor(t, "the job page at 375px without a horizontal scroll", 10*time.Second,
		`document.querySelector('#runs tr') !== null && document.documentElement.scrollWidth <= 375`)

	b.do(t, "the cluster page", 10*time.Second, chromedp.Navigate(srv.url+"/#/cluster"))
	b.waitFor(t, "the leader and its token", 10*time.Second,
		`/^[1-9][0-9]*$/.test(document.querySelector('#leader-token')?.textContent || '')`)

	b.checkDescriber(t)
	b.checkConsole(t)
}

// TestBrowserSignIn: with auth on, the page asks for a token, refuses a wrong one, keeps a
// good one in sessionStorage (never in the URL), and says so when the role may not act.
func TestBrowserSignIn(t *testing.T) {
	chromium := ensureChromium(t)
	bin := buildSchedulerd(t)
	const viewer, admin, wrong = "viewer-token-for-the-browser-test", "admin-token-for-the-browser-test", "a-token-nobody-issued"
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte(sha(viewer)+" viewer vera\n"+sha(admin)+" admin ada\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, bin, "--auth-tokens-file", tokens)
	srv.put(t, admin, "nightly", `{"schedule":"0 30 2 * * *","timezone":"Europe/Berlin","target":{"http":{"url":"http://127.0.0.1:9/"}}}`)
	b := newBrowser(t, chromium)

	b.do(t, "open the page", 15*time.Second, chromedp.Navigate(srv.url+"/#/jobs"))
	b.waitFor(t, "the sign-in dialog", 10*time.Second, `document.querySelector('#login').open && document.activeElement?.id === 'login-token'`)
	b.do(t, "a wrong token", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#login-token"), wrong),
		chromedp.Click(chromedp.CSS("#login-submit")))
	b.waitFor(t, "the wrong token refused", 10*time.Second,
		`document.querySelector('#login-error').textContent.includes('not accepted') && document.querySelector('#login').open`)
	b.do(t, "the viewer's token", 10*time.Second,
		clearInput("#login-token"),
		chromedp.SendKeys(chromedp.CSS("#login-token"), viewer),
		chromedp.Click(chromedp.CSS("#login-submit")))
	b.waitFor(t, "the job list", 10*time.Second,
		`!document.querySelector('#login').open && document.querySelector('tr[data-job="nightly"]')?.textContent.includes('every day at 02:30 (Europe/Berlin)')`)
	b.waitFor(t, "the token in sessionStorage only", 5*time.Second,
		`sessionStorage.getItem('schedulerd.token') === `+jsString(viewer)+` && !location.href.includes(`+jsString(viewer)+`) && !document.body.textContent.includes(`+jsString(viewer)+`)`)

	b.do(t, "pause as a viewer", 10*time.Second,
		chromedp.Navigate(srv.url+"/#/jobs/nightly"),
		chromedp.WaitVisible(chromedp.CSS("#action-pause")),
		chromedp.Click(chromedp.CSS("#action-pause")),
		chromedp.WaitVisible(chromedp.CSS("dialog[open] button[value=ok]")),
		chromedp.Click(chromedp.CSS("dialog[open] button[value=ok]")))
	b.waitFor(t, "the role refusal", 10*time.Second,
		`document.querySelector('#job-message').textContent.startsWith('Your role may not do this.') &&
		 document.querySelector('#job-message').textContent.includes('viewer')`)
	if got := srv.jobState(t, "nightly", admin); got != "active" {
		t.Fatalf("the viewer's pause changed the job to %q", got)
	}

	b.do(t, "sign out", 10*time.Second, chromedp.Click(chromedp.CSS("#sign-out")))
	b.waitFor(t, "the token gone and the dialog back", 10*time.Second,
		`sessionStorage.getItem('schedulerd.token') === null && document.querySelector('#login').open`)
	b.checkConsole(t, viewer, wrong)
}
