"""The status page in headless Chromium, driven through the DevTools
protocol (tests/ui/cdp.py); run by tests/suites/54-ui-browser.sh, which
starts the server.  Arguments: BASE_URL STATE_DB ADMIN_TOKEN SHOTS_DIR.
Prints one "ok"/"FAIL" line per check and the closing "N passed, N failed"."""
import json
import os
import sqlite3
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from cdp import Browser  # noqa: E402

base, db, token, shots = sys.argv[1:5]
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   54-ui-browser: {name}")
    else:
        failed += 1
        print(f"FAIL 54-ui-browser: {name} {detail}")


def row(sql, *args):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchone()
    finally:
        con.close()


def api(path, body):
    rq = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(rq, timeout=10))


b = Browser()
try:
    # no session: the login page, no data
    b.navigate(base + "/ui/")
    check("no session: the login page", b.eval("location.pathname") == "/ui/login"
          and b.eval("!!document.getElementById('login')"))
    check("... and no host on it", "kvm01" not in b.eval("document.body.innerText"))

    # a wrong token: the login page again, with the reason, still no data
    b.eval("document.getElementById('token').value = 'not-the-token-not-the-token-not-the'")
    b.click_and_load("document.getElementById('login-button')")
    check("wrong token: the login page again", b.eval("!!document.getElementById('login-error')")
          and not b.eval("!!document.getElementById('fleet')"))
    check("... no host shown", "kvm01" not in b.eval("document.body.innerText"))

    # log in: the fleet
    b.eval(f"document.getElementById('token').value = {json.dumps(token)}")
    b.click_and_load("document.getElementById('login-button')")
    check("logged in: the fleet table", b.eval("location.pathname") == "/ui/"
          and b.eval("document.querySelectorAll('#fleet tbody tr').length") == 6)
    check("the summary bar counts every machine", b.eval("document.getElementById('c-total').textContent") == "6")
    check("the session cookie is not readable by scripts", "kf_session" not in b.eval("document.cookie"))
    check("live updates connect", b.wait_for("document.body.dataset.live === '1'", 10))

    # a host changes state while the page is open: no reload
    b.eval("window.kfMark = 1")
    tok = row("SELECT token FROM hosts WHERE name='plain01'")[0]
    urllib.request.urlopen(urllib.request.Request(f"{base}/cb/plain01/installing?token={tok}", data=b"",
                                                  method="POST"), timeout=10).read()
    check("the row changes live on a callback",
          b.wait_for("document.getElementById('h-plain01').dataset.state === 'installing'", 5))
    check("... without a reload", b.eval("window.kfMark === 1"))
    check("... the summary follows", b.wait_for("document.getElementById('c-installing').textContent === '1'", 5))

    # search and sort in place
    # search and sort by the server, the table swapped in place
    b.eval("{ const s = document.getElementById('search'); s.value = 'web0'; s.dispatchEvent(new Event('input')); }")
    check("search filters the rows",
          b.wait_for("[...document.querySelectorAll('#fleet tbody tr')].filter(r => !r.hidden).length === 3", 5))
    check("... by the server, in the address", b.eval("location.search") == "?q=web0")
    b.eval("{ const s = document.getElementById('search'); s.value = ''; s.dispatchEvent(new Event('input')); }")
    b.wait_for("document.querySelectorAll('#fleet tbody tr').length === 6", 5)
    b.eval("document.querySelector('th[data-key=state] a').click()")
    check("sorting by state puts installing last of new/installing",
          b.wait_for("document.querySelector('#fleet tbody tr:last-child').id === 'h-plain01'", 5))
    check("... without a reload, still live", b.eval("window.kfMark === 1 && document.body.dataset.live === '1'"))
    b.screenshot(os.path.join(shots, "ui-fleet.png"))

    # pages: two rows a page, the pager's links
    b.navigate(base + "/ui/?limit=2")
    first = b.eval("[...document.querySelectorAll('#fleet tbody tr')].map(r => r.id).join(' ')")
    check("a page of two rows", len(first.split()) == 2 and "of 6 hosts" in b.eval("document.getElementById('pager').innerText"),
          first)
    check("... the summary still counts the fleet", b.eval("document.getElementById('c-total').textContent") == "6")
    b.eval("window.kfMark = 2")
    b.eval("document.querySelector('#pager a.next').click()")
    check("next page: the next two rows",
          b.wait_for("document.getElementById('pager').innerText.includes('3\u20134 of 6')", 5)
          and b.eval("document.querySelectorAll('#fleet tbody tr').length") == 2
          and first.split()[0] not in b.eval("document.getElementById('fleet').innerText"))
    check("... in the address, without a reload", "offset=2" in b.eval("location.search") and b.eval("window.kfMark === 2"))
    b.eval("document.querySelector('#pager a.last').click()")
    check("last page", b.wait_for("document.getElementById('pager').innerText.includes('5\u20136 of 6')", 5)
          and not b.eval("!!document.querySelector('#pager a.next')"))
    b.navigate(base + "/ui/?limit=2&offset=2")
    check("a page's address loads that page", b.eval("document.getElementById('pager').innerText").find("3\u20134 of 6") >= 0)

    # the host page; reinstall flips netboot in the store
    api("/api/v1/hosts/kvm01/netboot", {"on": False})
    check("netboot off before", row("SELECT netboot FROM hosts WHERE name='kvm01'")[0] == 0)
    b.navigate(base + "/ui/host/kvm01")
    check("the host page", b.eval("document.querySelector('h1').textContent") == "kvm01"
          and b.eval("!!document.getElementById('history')"))
    check("... shows the history", "netboot" in b.eval("document.getElementById('history').innerText"))
    check("... and no install token", row("SELECT token FROM hosts WHERE name='kvm01'")[0]
          not in b.eval("document.documentElement.outerHTML"))
    b.screenshot(os.path.join(shots, "ui-host.png"))
    b.accept_dialogs()
    b.click_and_load("document.getElementById('act-reinstall')")
    check("reinstall asked first", len(b.dialogs) == 1 and "Reinstall kvm01" in b.dialogs[0], b.dialogs)
    check("reinstall: netboot on in the store", row("SELECT netboot, state FROM hosts WHERE name='kvm01'") == (1, "new"))
    check("... back on the host page", b.eval("location.pathname") == "/ui/host/kvm01"
          and b.wait_for("document.getElementById('d-netboot').textContent === 'on'", 5))
    check("... with who did it in its history",
          b.wait_for("document.getElementById('history').innerText.includes('reinstall by alice')", 5))

    # log out: the login page, and the page is gone
    b.click_and_load("document.getElementById('logout')")
    check("logged out: the login page", b.eval("location.pathname") == "/ui/login")
    b.navigate(base + "/ui/host/kvm01")
    check("after logout: no host page", b.eval("location.pathname") == "/ui/login")
finally:
    b.close()
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
