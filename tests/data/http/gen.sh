#!/bin/sh
# Regenerates the hostile request corpus in corpus/ (raw bytes, CRLF line
# ends).  Each case is corpus/NAME.req; expected answers are in
# corpus/expected ("NAME STATUS", STATUS a code, several joined by |, or
# "close": the server hangs up without an answer).  @@TOKEN_host@@ is
# replaced with that host's install token, @@CRED_host@@ with its agent
# credential, by the runners.  Run on purpose only:
#   tests/data/http/gen.sh
set -eu
cd "$(dirname "$0")/corpus"
rm -f ./*.req
r() { # r NAME  (request text on stdin, \n turned into \r\n)
	sed 's/$/\r/' > "$1.req"
}
rep() { # rep COUNT STRING
	awk -v n="$1" -v s="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s", s }'
}
hdr='Host: 127.0.0.1\nConnection: close\n'
printf "GET /boot/../state.db HTTP/1.1\n$hdr\n" | r traversal-dotdot
printf "GET /boot/%%2e%%2e/state.db HTTP/1.1\n$hdr\n" | r traversal-encoded
printf "GET /boot/%%2E%%2E%%2Fstate.db HTTP/1.1\n$hdr\n" | r traversal-encoded-upper
printf "GET /boot/%%252e%%252e/state.db HTTP/1.1\n$hdr\n" | r traversal-double-encoded
printf "GET /boot/..%%2fstate.db HTTP/1.1\n$hdr\n" | r traversal-encoded-slash
printf "GET /boot/..\\\\state.db HTTP/1.1\n$hdr\n" | r traversal-backslash
printf "GET //etc/passwd HTTP/1.1\n$hdr\n" | r traversal-absolute
printf "GET /boot//etc/passwd HTTP/1.1\n$hdr\n" | r traversal-inner-absolute
printf "GET /ks/../ks/kvm01?token=@@TOKEN_kvm01@@ HTTP/1.1\n$hdr\n" | r traversal-ks
printf "GET /ks/..%%2f..%%2fetc%%2fpasswd HTTP/1.1\n$hdr\n" | r traversal-ks-encoded
printf "GET /trees/./../../etc/passwd HTTP/1.1\n$hdr\n" | r traversal-trees-dot
printf "GET /boot/escape HTTP/1.1\n$hdr\n" | r symlink-out
printf "GET /boot/pxelinux.0%%00.txt HTTP/1.1\n$hdr\n" | r nul-encoded
printf "GET /boot/pxelinux.0\000.txt HTTP/1.1\n$hdr\n" | r nul-raw-url
printf "GET /healthz HTTP/1.1\nX-Evil: a\000b\n$hdr\n" | r nul-raw-header
printf "GET /ks/kvm01%%0d%%0aX-Injected:%%201?token=x HTTP/1.1\n$hdr\n" | r crlf-injection
{ printf "GET /boot/"; rep 70000 a; printf " HTTP/1.1\n$hdr\n"; } | r overlong-url
{ printf "GET /healthz?"; rep 20000 "q=1&"; printf " HTTP/1.1\n$hdr\n"; } | r overlong-query
{ printf "GET /healthz HTTP/1.1\nX-Long: "; rep 70000 b; printf "\n$hdr\n"; } | r overlong-header
{ printf "GET /healthz HTTP/1.1\n"; rep 3000 "X-H: 1234567890\n"; printf "$hdr\n"; } | r many-headers
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nContent-Type: application/json\nContent-Length: 100000000\n$hdr\n{}" | r huge-body-declared
{ printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nTransfer-Encoding: chunked\n$hdr\n";
  for i in 1 2 3 4 5 6 7 8 9 10; do printf "2000\n"; rep 8192 x; printf "\n"; done; printf "0\n\n"; } | r huge-body-chunked
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nTransfer-Encoding: chunked\n$hdr\nzz\nabc\n0\n\n" | r bad-chunked
printf "GET /healthz HTTP/1.1\nContent-Length: 5\n$hdr\nhello" | r body-on-get
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nContent-Length: abc\n$hdr\n" | r bad-content-length
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nContent-Length: -1\n$hdr\n" | r negative-content-length
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nContent-Length: 1\n$hdr\n{" | r json-truncated
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nContent-Length: 7\n$hdr\n[1,2,3]" | r json-array
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nContent-Length: 8\n$hdr\n{} extra" | r json-trailing
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nContent-Length: 12\n$hdr\n{\"a\":\"\000\"}  " | r json-nul
{ printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nContent-Length: 20000\n$hdr\n"; rep 10000 '{"'; } | r json-deep
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nContent-Length: 13\n$hdr\n{\"hello\": 1}\n" | r report-no-summary
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nContent-Length: 0\n$hdr\n" | r report-empty
printf "POST /cb/kvm01/installed?token=@@TOKEN_kvm01@@ HTTP/1.1\nContent-Length: 9\n$hdr\nnot json!" | r installed-bad-json
printf "DELETE /healthz HTTP/1.1\n$hdr\n" | r method-delete
printf "PUT /cb/kvm01/installed?token=@@TOKEN_kvm01@@ HTTP/1.1\nContent-Length: 0\n$hdr\n" | r method-put
printf "TRACE /healthz HTTP/1.1\n$hdr\n" | r method-trace
printf "FOO /healthz HTTP/1.1\n$hdr\n" | r method-unknown
printf "POST /healthz HTTP/1.1\nContent-Length: 0\n$hdr\n" | r method-post-healthz
printf "GET /cb/kvm01/installed?token=@@TOKEN_kvm01@@ HTTP/1.1\n$hdr\n" | r method-get-callback
printf "GET /etc/passwd HTTP/1.1\n$hdr\n" | r unknown-route
printf "GET /healthz HTTP/2.0\n$hdr\n" | r bad-version
printf "GET /healthz\n\n" | r http09
printf "\001\002\003\004 garbage\n\n" | r garbage-line
printf "GET /healthz HTTP/1.1\nNoColonHere\n$hdr\n" | r header-no-colon
printf "GET /ks/kvm01 HTTP/1.1\n$hdr\n" | r token-missing
printf "GET /ks/kvm01?token= HTTP/1.1\n$hdr\n" | r token-empty
printf "GET /ks/kvm01?token=0000000000000000000000000000000000000000000000000000000000000000 HTTP/1.1\n$hdr\n" | r token-wrong
printf "GET /ks/kvm01?token=@@TOKEN_kvm02@@ HTTP/1.1\n$hdr\n" | r token-other-host
printf "GET /profile/kvm01?token=@@TOKEN_web01@@ HTTP/1.1\n$hdr\n" | r token-other-host-profile
printf "POST /cb/kvm01/installed?token=@@TOKEN_kvm02@@ HTTP/1.1\nContent-Length: 0\n$hdr\n" | r token-other-host-callback
{ printf "GET /ks/kvm01?token="; rep 3000 f; printf " HTTP/1.1\n$hdr\n"; } | r token-long
printf "GET /ks/kvm01?token=@@TOKEN_kvm01@@&token=x HTTP/1.1\n$hdr\n" | r token-twice
printf "GET /ks/nosuchhost?token=@@TOKEN_kvm01@@ HTTP/1.1\n$hdr\n" | r token-unknown-host
printf "GET /ks/ HTTP/1.1\n$hdr\n" | r ks-empty-host
printf "GET /ks/kvm01/extra?token=@@TOKEN_kvm01@@ HTTP/1.1\n$hdr\n" | r ks-subpath
printf "POST /cb/kvm01/reboot?token=@@TOKEN_kvm01@@ HTTP/1.1\nContent-Length: 0\n$hdr\n" | r callback-unknown-action
printf "GET /boot/pxelinux.0 HTTP/1.1\nRange: bytes=999999999-\n$hdr\n" | r range-unsatisfiable
printf "GET /ipxe/01-zz-zz-zz-zz-zz-zz.ipxe HTTP/1.1\n$hdr\n" | r ipxe-bad-mac
printf "GET /boot/ HTTP/1.1\n$hdr\n" | r boot-directory
# ---- traversal in more encodings ----
printf "GET /boot/%%c0%%ae%%c0%%ae/state.db HTTP/1.1\n$hdr\n" | r traversal-overlong-utf8
printf "GET /boot/%%u002e%%u002e/state.db HTTP/1.1\n$hdr\n" | r traversal-percent-u
printf "GET /boot/%%ef%%bc%%8e%%ef%%bc%%8e/state.db HTTP/1.1\n$hdr\n" | r traversal-fullwidth
printf "GET /boot/..%%5cstate.db HTTP/1.1\n$hdr\n" | r traversal-encoded-backslash
printf "GET /boot/.%%2e/state.db HTTP/1.1\n$hdr\n" | r traversal-mixed
printf "GET /boot/..;/state.db HTTP/1.1\n$hdr\n" | r traversal-semicolon
printf "GET /boot/%%2e/pxelinux.0 HTTP/1.1\n$hdr\n" | r traversal-encoded-dot
printf "GET /profile/..%%2fks%%2fkvm01?token=@@TOKEN_kvm01@@ HTTP/1.1\n$hdr\n" | r traversal-profile
printf "GET /distros/d/tree/../../../state.db HTTP/1.1\n$hdr\n" | r traversal-distros
printf "GET /repo/%%2e%%2e/%%2e%%2e/state.db HTTP/1.1\n$hdr\n" | r traversal-repo-encoded
printf "POST /cb/..%%2fkvm01/installed?token=@@TOKEN_kvm01@@ HTTP/1.1\nContent-Length: 0\n$hdr\n" | r traversal-callback
printf "GET /ks/kvm01%%2f..%%2fkvm02?token=@@TOKEN_kvm01@@ HTTP/1.1\n$hdr\n" | r traversal-ks-other-host
printf "GET /boot/%%2e%%2e%%2f%%2e%%2e%%2fetc%%2fpasswd HTTP/1.1\n$hdr\n" | r traversal-fully-encoded
# ---- request lines ----
{ rep 10000 A; printf " /healthz HTTP/1.1\n$hdr\n"; } | r overlong-method
printf "GET  /healthz  HTTP/1.1\n$hdr\n" | r line-double-space
printf "GET\t/healthz\tHTTP/1.1\n$hdr\n" | r line-tabs
printf "GET /healthz HTTP/1.1 extra\n$hdr\n" | r line-extra-field
printf "GET /healthz HTTP/1.1\n\n" | r line-no-host
printf "GET healthz HTTP/1.1\n$hdr\n" | r line-relative-path
printf "GET http://evil.example/healthz HTTP/1.1\n$hdr\n" | r line-absolute-uri
printf "GET /healthz HTTP/9.9\n$hdr\n" | r line-version-future
printf "GET /healthz HTTP/1.x\n$hdr\n" | r line-version-garbage
printf "get /healthz HTTP/1.1\n$hdr\n" | r line-lowercase-method
printf "\n\nGET /healthz HTTP/1.1\n$hdr\n" | r line-leading-blank
printf "GET /healthz HTTP/1.1\nHost: 127.0.0.1\n Folded: continuation\nConnection: close\n\n" | r header-folded
printf "GET /healthz HTTP/1.1\nHost: 127.0.0.1\nBad Name: x\nConnection: close\n\n" | r header-space-in-name
# ---- header floods ----
{ printf "GET /healthz HTTP/1.1\n"; i=0; while [ $i -lt 70 ]; do printf "X%d: 1\n" $i; i=$((i + 1)); done; printf "$hdr\n"; } | r header-count-flood
{ printf "GET /healthz HTTP/1.1\n"; rep 200 "Cookie: a=1\n"; printf "$hdr\n"; } | r header-cookie-flood
# ---- chunked-encoding tricks ----
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nTransfer-Encoding: chunked\n$hdr\nffffffffffffffffff\nabc\n0\n\n" | r chunked-size-overflow
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nTransfer-Encoding: chunked\n$hdr\n-5\nabc\n0\n\n" | r chunked-size-negative
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nTransfer-Encoding: chunked\n$hdr\n2;ext=1\n{}\n0\n\n" | r chunked-extension
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nTransfer-Encoding: chunked\n$hdr\n5\n{}\n0\n\n" | r chunked-short-chunk
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nContent-Length: 4\nTransfer-Encoding: chunked\n$hdr\n0\n\nGET /ks/kvm01?token=@@TOKEN_kvm01@@ HTTP/1.1\n$hdr\n" | r chunked-with-length
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nTransfer-Encoding: xchunked\n$hdr\n2\n{}\n0\n\n" | r chunked-obfuscated
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nTransfer-Encoding: chunked\nTransfer-Encoding: identity\n$hdr\n2\n{}\n0\n\n" | r chunked-twice
printf "GET /healthz HTTP/1.1\nTransfer-Encoding: chunked\n$hdr\n5\nhello\n0\n\n" | r chunked-on-get
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nContent-Length: 2\nContent-Length: 200\n$hdr\n{}" | r content-length-twice
printf "POST /cb/kvm01/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nContent-Length: 99999999999999999999999\n$hdr\n{}" | r content-length-overflow
# ---- huge bodies on every route that takes one ----
printf "POST /facts/kvm01 HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nContent-Length: 1000000000\n$hdr\n{}" | r huge-body-facts
printf "POST /discover?mac=52:54:00:99:00:01 HTTP/1.1\nContent-Length: 1000000000\n$hdr\n{}" | r huge-body-discover
printf "POST /cb/kvm01/installed?token=@@TOKEN_kvm01@@ HTTP/1.1\nContent-Length: 65537\n$hdr\n{}" | r huge-body-installed
# ---- token guessing ----
printf "GET /ks/kvm01?token=abc HTTP/1.1\n$hdr\n" | r token-short
printf "GET /ks/kvm01?token=@@TOKEN_kvm01@@0 HTTP/1.1\n$hdr\n" | r token-valid-plus-one
printf "GET /ks/kvm01?TOKEN=@@TOKEN_kvm01@@ HTTP/1.1\n$hdr\n" | r token-name-case
printf "GET /ks/kvm01?token[]=@@TOKEN_kvm01@@ HTTP/1.1\n$hdr\n" | r token-array
printf "GET /ks/kvm01 HTTP/1.1\nAuthorization: Bearer @@TOKEN_kvm01@@\n$hdr\n" | r token-in-header
printf "GET /ks/kvm01?token=%%00@@TOKEN_kvm01@@ HTTP/1.1\n$hdr\n" | r token-nul-prefix
# ---- another host's files with a valid token of a different host ----
printf "GET /ks/web01?token=@@TOKEN_kvm01@@ HTTP/1.1\n$hdr\n" | r other-host-ks-guest
printf "GET /profile/kvm02?token=@@TOKEN_kvm01@@ HTTP/1.1\n$hdr\n" | r other-host-profile
printf "POST /cb/kvm02/report?token=@@TOKEN_kvm01@@ HTTP/1.1\nContent-Length: 29\n$hdr\n{\"drift\": 0, \"failures\": 0}\n" | r other-host-report
printf "POST /facts/kvm02?token=@@TOKEN_kvm01@@ HTTP/1.1\nContent-Length: 2\n$hdr\n{}" | r other-host-facts
printf "GET /ks/KVM01?token=@@TOKEN_kvm01@@ HTTP/1.1\n$hdr\n" | r other-host-case
printf "GET /ks/kvm01.?token=@@TOKEN_kvm01@@ HTTP/1.1\n$hdr\n" | r other-host-trailing-dot
# ---- install token and agent credential on each other's routes ----
printf "GET /profile/kvm01?token=@@TOKEN_kvm01@@ HTTP/1.1\n$hdr\n" | r cred-install-token-in-query
printf "GET /profile/kvm01 HTTP/1.1\nAuthorization: Bearer @@TOKEN_kvm01@@\n$hdr\n" | r cred-install-token-as-bearer
printf "GET /ks/kvm01?token=@@CRED_kvm01@@ HTTP/1.1\n$hdr\n" | r cred-on-ks
printf "POST /cb/kvm01/installed?token=@@CRED_kvm01@@ HTTP/1.1\nContent-Length: 0\n$hdr\n" | r cred-on-installed
printf "GET /profile/kvm01 HTTP/1.1\nAuthorization: Bearer abc\n$hdr\n" | r cred-short
printf "GET /profile/kvm01 HTTP/1.1\nAuthorization: Basic @@CRED_kvm01@@\n$hdr\n" | r cred-wrong-scheme
printf "GET /profile/kvm02 HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\n$hdr\n" | r cred-other-host-profile
printf "POST /cb/kvm02/report HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nContent-Length: 29\n$hdr\n{\"drift\": 0, \"failures\": 0}\n" | r cred-other-host-report
printf "POST /facts/kvm02 HTTP/1.1\nAuthorization: Bearer @@CRED_kvm01@@\nContent-Length: 2\n$hdr\n{}" | r cred-other-host-facts
ls | grep -c '\.req$'
