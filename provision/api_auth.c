/* Who may use the API and the page: admin tokens from a root-only file,
 * sent as "Authorization: Bearer TOKEN", or a session cookie that the
 * login form sets (HttpOnly, SameSite=Strict) with a CSRF token that every
 * state change by cookie must bring (docs/api.md, "Authentication"). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "provision/api.h"

#define MAX_TOKENS 256
#define MIN_TOKEN 32
#define MAX_SESSIONS 1024
#define SESSION_SECONDS (12 * 3600)

struct api_token {
	char name[64];
	int role;
	char *token;
};

struct session {
	char sid[KF_TOKEN_HEX + 1];
	char csrf[KF_TOKEN_HEX + 1];
	char name[64];
	int role;
	time_t expires;
};

/* The tokens and the sessions logged in with them (in memory: a restart
 * logs everyone out). */
struct kf_api_tokens {
	struct api_token v[MAX_TOKENS];
	size_t n;
	pthread_mutex_t lock; /* of sessions */
	struct session sessions[MAX_SESSIONS];
};

void kf_api_tokens_free(struct kf_api_tokens *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		explicit_bzero(t->v[i].token, strlen(t->v[i].token));
		free(t->v[i].token);
	}
	pthread_mutex_destroy(&t->lock);
	explicit_bzero(t->sessions, sizeof(t->sessions));
	free(t);
}

static bool name_ok(const char *s, size_t n)
{
	if (!n || n >= 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' || s[i] == '_' || s[i] == '@'))
			return false;
	return true;
}

/* One line "NAME ROLE TOKEN" (fields split at blanks) into t. */
static int parse_line(struct kf_api_tokens *t, const char *path, int ln, char *line,
		      struct kf_err *e)
{
	char *f[4] = { 0 };
	int nf = 0, col[4] = { 0 };
	for (char *p = line; *p && nf < 4;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		col[nf] = (int)(p - line) + 1;
		f[nf++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = 0;
	}
	if (nf == 0 || f[0][0] == '#')
		return 0;
	if (nf != 3)
		return kf_errc(e, -EINVAL, NULL, "%s:%d:%d: expected NAME ROLE TOKEN", path, ln,
			       col[nf > 3 ? 3 : 0]);
	if (!name_ok(f[0], strlen(f[0])))
		return kf_errc(e, -EINVAL, NULL, "%s:%d:%d: bad name \"%s\" ([A-Za-z0-9._@-], 1 to 63)",
			       path, ln, col[0], f[0]);
	int role = !strcmp(f[1], "admin") ? KF_ROLE_ADMIN : !strcmp(f[1], "read-only") ? KF_ROLE_READ : 0;
	if (!role)
		return kf_errc(e, -EINVAL, NULL, "%s:%d:%d: unknown role \"%s\" (admin or read-only)",
			       path, ln, col[1], f[1]);
	if (strlen(f[2]) < MIN_TOKEN || strlen(f[2]) > 256)
		return kf_errc(e, -EINVAL, NULL, "%s:%d:%d: token of %s: %d to 256 characters", path, ln,
			       col[2], f[0], MIN_TOKEN);
	for (size_t i = 0; i < t->n; i++) {
		if (!strcmp(t->v[i].name, f[0]))
			return kf_errc(e, -EINVAL, NULL, "%s:%d:%d: name \"%s\" given twice", path, ln,
				       col[0], f[0]);
		if (!strcmp(t->v[i].token, f[2]))
			return kf_errc(e, -EINVAL, NULL, "%s:%d:%d: token of %s is %s's too", path, ln,
				       col[2], f[0], t->v[i].name);
	}
	if (t->n == MAX_TOKENS)
		return kf_errc(e, -E2BIG, NULL, "%s:%d: more than %d tokens", path, ln, MAX_TOKENS);
	struct api_token *k = &t->v[t->n++];
	snprintf(k->name, sizeof(k->name), "%s", f[0]);
	k->role = role;
	k->token = kf_xstrdup(f[2]);
	return 0;
}

/* Opens path for reading if it is a regular file of root's that group
 * and others cannot read or write. */
static int open_private(const char *path, struct kf_err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return kf_errc(e, -errno, NULL, "api: cannot open admin tokens %s: %s", path, strerror(errno));
	struct stat sb;
	int r = 0;
	if (fstat(fd, &sb) < 0)
		r = kf_errc(e, -errno, NULL, "api: %s: %s", path, strerror(errno));
	else if (!S_ISREG(sb.st_mode))
		r = kf_errc(e, -EINVAL, NULL, "api: admin tokens %s: not a regular file", path);
	else if (sb.st_uid != 0)
		r = kf_errc(e, -EPERM, NULL, "api: admin tokens %s: owned by uid %u, must be root's", path,
			    (unsigned)sb.st_uid);
	else if (sb.st_mode & 077)
		r = kf_errc(e, -EPERM, NULL,
			    "api: admin tokens %s: mode %04o lets group or others read it (chmod 600)", path,
			    (unsigned)(sb.st_mode & 07777));
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int kf_api_tokens_load(struct kf_api_tokens **out, const char *path, struct kf_err *e)
{
	*out = NULL;
	int fd = open_private(path, e);
	if (fd < 0)
		return fd;
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return kf_errc(e, -errno, NULL, "api: %s: %s", path, strerror(errno));
	}
	struct kf_api_tokens *t = kf_xcalloc(1, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	char *line = NULL;
	size_t cap = 0;
	int r = 0, ln = 0;
	while (r == 0 && getline(&line, &cap, f) >= 0) {
		ln++;
		line[strcspn(line, "\r\n")] = 0;
		r = parse_line(t, path, ln, line, e);
	}
	if (line) {
		explicit_bzero(line, cap);
		free(line);
	}
	fclose(f);
	if (r == 0 && t->n == 0)
		r = kf_errc(e, -EINVAL, NULL, "api: admin tokens %s: no token in the file", path);
	if (r < 0) {
		kf_api_tokens_free(t);
		return r;
	}
	*out = t;
	return 0;
}

/* The entry of token, or NULL (every entry is compared: constant time
 * per entry). */
static const struct api_token *token_find(const struct kf_api_tokens *t, const char *token)
{
	const struct api_token *hit = NULL;
	for (size_t i = 0; t && i < t->n; i++)
		if (kf_token_equal(token, t->v[i].token))
			hit = &t->v[i];
	return hit;
}

/* The value of cookie name in the Cookie header (copied into out). */
static bool cookie(struct kf_httpd_req *rq, const char *name, char *out, size_t len)
{
	const char *h = kf_httpd_header(rq, "Cookie");
	size_t nl = strlen(name);
	for (const char *p = h; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		size_t n = strcspn(p, ";");
		if (n > nl && !strncmp(p, name, nl) && p[nl] == '=') {
			size_t vl = n - nl - 1;
			if (vl >= len)
				return false;
			memcpy(out, p + nl + 1, vl);
			out[vl] = 0;
			return true;
		}
		p += n;
	}
	return false;
}

static void refuse_log(struct kf_httpd_req *rq, const char *why)
{
	kf_log(KF_LOG_WARN, "api: 401 %s %s from %s: %s", kf_httpd_method(rq), kf_httpd_path(rq),
	       kf_httpd_peer(rq), why);
}

static int session_who(struct kf_api_tokens *t, const char *sid, struct kf_api_who *who)
{
	int r = -EACCES;
	time_t now = time(NULL);
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < MAX_SESSIONS; i++) {
		struct session *x = &t->sessions[i];
		if (!x->sid[0] || !kf_token_equal(x->sid, sid))
			continue;
		if (x->expires < now) {
			memset(x, 0, sizeof(*x));
			break;
		}
		snprintf(who->name, sizeof(who->name), "%s", x->name);
		who->role = x->role;
		who->session = true;
		memcpy(who->csrf, x->csrf, sizeof(who->csrf));
		memcpy(who->sid, x->sid, sizeof(who->sid));
		r = 0;
		break;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

int kf_api_who(struct kf_api_tokens *t, struct kf_httpd_req *rq, struct kf_api_who *who)
{
	memset(who, 0, sizeof(*who));
	const char *auth = kf_httpd_header(rq, "Authorization");
	if (auth) {
		const struct api_token *k = !strncasecmp(auth, "Bearer ", 7) ? token_find(t, auth + 7) : NULL;
		if (!k) {
			refuse_log(rq, !strncasecmp(auth, "Bearer ", 7) ? "unknown bearer token"
									: "authorization is not a bearer token");
			return -EACCES;
		}
		snprintf(who->name, sizeof(who->name), "%s", k->name);
		who->role = k->role;
		return 0;
	}
	char sid[KF_TOKEN_HEX + 1];
	if (!cookie(rq, "kf_session", sid, sizeof(sid)))
		return kf_httpd_header(rq, "Cookie") && strstr(kf_httpd_header(rq, "Cookie"), "kf_session=")
			       ? (refuse_log(rq, "malformed session cookie"), -EACCES)
			       : -ENOENT;
	if (session_who(t, sid, who) < 0) {
		refuse_log(rq, "unknown or expired session");
		return -EACCES;
	}
	return 0;
}

int kf_api_may_change(struct kf_httpd_req *rq, const struct kf_api_who *who, const char *form_csrf)
{
	const char *why = NULL;
	if (who->session) {
		const char *c = form_csrf ? form_csrf : kf_httpd_header(rq, "X-CSRF-Token");
		if (!c || !kf_token_equal(c, who->csrf))
			why = "missing or wrong CSRF token";
	}
	if (!why && who->role != KF_ROLE_ADMIN)
		why = "read-only token";
	if (!why)
		return 0;
	kf_log(KF_LOG_WARN, "api: 403 %s %s from %s (%s): %s", kf_httpd_method(rq), kf_httpd_path(rq),
	       kf_httpd_peer(rq), who->name, why);
	kf_httpd_reply_error(rq, 403, "%s", why);
	return -EACCES;
}

int kf_api_login(struct kf_api_tokens *t, const char *token, const char *peer,
			struct kf_api_who *who)
{
	memset(who, 0, sizeof(*who));
	const struct api_token *k = token && *token ? token_find(t, token) : NULL;
	if (!k) {
		kf_log(KF_LOG_WARN, "api: login refused from %s: unknown token", peer);
		return -EACCES;
	}
	struct session x = { 0 };
	if (kf_token_new(x.sid, NULL) < 0 || kf_token_new(x.csrf, NULL) < 0)
		return -EIO;
	snprintf(x.name, sizeof(x.name), "%s", k->name);
	x.role = k->role;
	time_t now = time(NULL);
	x.expires = now + SESSION_SECONDS;
	pthread_mutex_lock(&t->lock);
	size_t slot = 0;
	for (size_t i = 0; i < MAX_SESSIONS; i++) {
		if (!t->sessions[i].sid[0] || t->sessions[i].expires < now) {
			slot = i;
			break;
		}
		if (t->sessions[i].expires < t->sessions[slot].expires)
			slot = i; /* full: the oldest one goes */
	}
	t->sessions[slot] = x;
	pthread_mutex_unlock(&t->lock);
	snprintf(who->name, sizeof(who->name), "%s", x.name);
	who->role = x.role;
	who->session = true;
	memcpy(who->sid, x.sid, sizeof(x.sid));
	memcpy(who->csrf, x.csrf, sizeof(x.csrf));
	kf_log(KF_LOG_INFO, "api: %s logged in from %s", x.name, peer);
	return 0;
}

void kf_api_logout(struct kf_api_tokens *t, const char *sid)
{
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < MAX_SESSIONS; i++)
		if (t->sessions[i].sid[0] && kf_token_equal(t->sessions[i].sid, sid))
			memset(&t->sessions[i], 0, sizeof(t->sessions[i]));
	pthread_mutex_unlock(&t->lock);
}
